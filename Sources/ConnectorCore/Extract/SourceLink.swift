import Logging
import PostgresClient

/// The job's source connection, reopened after a transient failure. The fetch thread uses the
/// connection; `cancel()` may be called from any thread and never blocks (a hung server would
/// hold a cancel request for ever), and a stop makes a command that hangs give up.
final class SourceLink: @unchecked Sendable {
    private let open: () throws -> PostgresConnection
    private let stopFlag: StopFlag
    private let retry: RetryPolicy
    private let logger: Logger
    private let lock = Lock()
    private var token: PostgresCancelToken?
    private(set) var connection: PostgresConnection
    /// The server's `idle_session_timeout` for this session in seconds (nil: none): a session
    /// idle that long is ended by the server, so long waits keep it alive (`keepAlive`).
    private(set) var idleSessionTimeout: Double?

    /// Connects, retrying transient failures (too many connections, a server starting) like a read.
    init(open: @escaping () throws -> PostgresConnection, retry: RetryPolicy, stopFlag: StopFlag, logger: Logger) throws {
        self.open = open
        self.stopFlag = stopFlag
        self.retry = retry
        self.logger = logger
        var attempt = 0
        while true {
            do {
                connection = try open()
                break
            } catch let error as PostgresError where error.isTransient && !stopFlag.isRaised {
                attempt += 1
                try Self.backOff(error, attempt: attempt, step: "connect", retry: retry, stopFlag: stopFlag, logger: logger)
            }
        }
        prepare(connection)
    }

    /// Counts one transient failure of `step`: gives up once retries run out, else logs and waits
    /// its backoff (giving up at once when the run is stopped meanwhile).
    private static func backOff(_ error: PostgresError, attempt: Int, step: String, retry: RetryPolicy,
                                stopFlag: StopFlag, logger: Logger) throws {
        guard attempt <= retry.maxAttempts else {
            throw ExtractError.retriesExhausted(attempts: attempt - 1, last: error)
        }
        let delay = retry.delay(attempt: attempt)
        logger.warning("source step failed; retrying", metadata: [
            "step": "\(step)", "attempt": "\(attempt)", "max_attempts": "\(retry.maxAttempts)",
            "retry.delay_s": "\(twoDecimals(delay))", "error": "\(error)"])
        if stopFlag.wait(seconds: delay) { throw error }
    }

    /// Runs a step before the read (catalog, null count, where to start), retrying transient
    /// failures (a lock timeout, a lost connection) with the same bounded backoff as a read.
    func retrying<T>(_ step: String, _ body: (PostgresConnection) throws -> T) throws -> T {
        var attempt = 0
        while true {
            do {
                return try body(connection)
            } catch let error as PostgresError where error.isTransient && !stopFlag.isRaised {
                attempt += 1
                try Self.backOff(error, attempt: attempt, step: step, retry: retry, stopFlag: stopFlag, logger: logger)
                try reconnectIfBroken(after: error)
            }
        }
    }

    /// Opens a new connection when `error` (or the connection's state) says the old one is gone.
    /// A transient reconnect failure is only logged: the next command fails fast and counts as
    /// the next attempt; any other (a password changed) is thrown.
    func reconnectIfBroken(after error: PostgresError) throws {
        guard connection.isBroken || error.kind == .connect || error.kind == .connectionLost else { return }
        do {
            try reconnect()
        } catch let reconnectError as PostgresError where reconnectError.isTransient {
            logger.warning("reconnect failed", metadata: ["error": "\(reconnectError)"])
        }
    }

    /// A trivial statement, so an idle session is not ended by the server's `idle_session_timeout`
    /// (a held segment's sorted rows live in it). Failures surface at the next read.
    func keepAlive() {
        _ = try? connection.execute("SELECT 1")
    }

    func reconnect() throws {
        let fresh = try open()
        prepare(fresh)
        connection = fresh
    }

    private func prepare(_ connection: PostgresConnection) {
        let limit = try? connection.execute("SELECT setting FROM pg_catalog.pg_settings WHERE name = 'idle_session_timeout'")
        let milliseconds = limit.flatMap { $0.rowCount == 1 ? Double($0.string(0, 0) ?? "") : nil } ?? 0
        idleSessionTimeout = milliseconds > 0 ? milliseconds / 1000 : nil
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
