import PostgresClient

/// The job's source connection, reopened after a transient failure. The fetch thread uses the
/// connection; `cancel()` may be called from any thread to abort the statement in flight.
final class SourceLink: @unchecked Sendable {
    private let open: () throws -> PostgresConnection
    private let lock = Condition()
    private var token: PostgresCancelToken?
    private(set) var connection: PostgresConnection

    init(open: @escaping () throws -> PostgresConnection) throws {
        self.open = open
        connection = try open()
        token = connection.cancelToken()
    }

    func reconnect() throws {
        let fresh = try open()
        connection = fresh
        lock.withLock { token = fresh.cancelToken() }
    }

    func cancel() {
        lock.withLock { token }?.cancel()
    }
}
