import Logging
import PostgresClient

/// The job's source connection, reopened after a transient failure. The fetch thread uses the
/// connection; `cancel()` may be called from any thread and never blocks (a hung server would
/// hold a cancel request for ever), and a stop makes a command that hangs give up.
final class SourceLink: @unchecked Sendable {
    private let open: () throws -> PostgresConnection
    private let stopFlag: StopFlag
    private let lock = Lock()
    private var token: PostgresCancelToken?
    private(set) var connection: PostgresConnection

    /// Connects, retrying transient failures (too many connections, a server starting) like a read.
    init(open: @escaping () throws -> PostgresConnection, retry: RetryPolicy, stopFlag: StopFlag, logger: Logger) throws {
        self.open = open
        self.stopFlag = stopFlag
        var attempt = 0
        while true {
            do {
                connection = try open()
                break
            } catch let error as PostgresError where error.isTransient && !stopFlag.isRaised {
                attempt += 1
                guard attempt <= retry.maxAttempts else {
                    throw ExtractError.retriesExhausted(attempts: attempt - 1, last: error)
                }
                let delay = retry.delay(attempt: attempt)
                logger.warning("cannot connect to the source; retrying", metadata: [
                    "attempt": "\(attempt)", "max_attempts": "\(retry.maxAttempts)",
                    "retry.delay_s": "\(twoDecimals(delay))", "error": "\(error)"])
                if stopFlag.wait(seconds: delay) { throw error }
            }
        }
        prepare(connection)
    }

    func reconnect() throws {
        let fresh = try open()
        prepare(fresh)
        connection = fresh
    }

    private func prepare(_ connection: PostgresConnection) {
        let stopFlag = self.stopFlag
        connection.interrupted = { stopFlag.isRaised }
        lock.withLock { token = connection.cancelToken() }
    }

    /// Asks the server to cancel the running statement, from a thread of its own.
    func cancel() {
        guard let token = lock.withLock({ token }) else { return }
        _ = OSThread(name: "timbal-cancel", detached: true) { token.cancel() }
    }
}
