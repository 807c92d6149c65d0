/// An error from libpq or the server. `description` is safe to log: it never holds conninfo.
public struct PostgresError: Error, CustomStringConvertible, CustomDebugStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// The connection could not be opened (network, server starting or full): worth retrying.
        case connect
        /// The connection settings are wrong (a malformed DSN, an invalid option) or the server
        /// refused the login (authentication, unknown role or database, pg_hba): retrying cannot help.
        case connectRefused
        /// The connection broke while a command ran.
        case connectionLost
        /// The server rejected a command.
        case server
        /// libpq returned something this wrapper did not expect.
        case protocolViolation
    }

    public let kind: Kind
    /// Five-character SQLSTATE, when the server sent one.
    public let sqlState: String?
    /// The server's (or libpq's) primary message, without conninfo.
    public let message: String
    /// The statement that failed, for `debugDescription` only.
    public let statement: String?

    public init(kind: Kind, sqlState: String?, message: String, statement: String? = nil) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
        self.statement = statement
    }

    public var description: String {
        if let sqlState { return "postgres: \(message) (SQLSTATE \(sqlState))" }
        return "postgres: \(message)"
    }

    public var debugDescription: String {
        guard let statement else { return description }
        return "\(description) in: \(statement)"
    }

    /// Whether retrying from the last checkpoint may succeed (the server or the link had a moment).
    public var isTransient: Bool {
        if kind == .connect || kind == .connectionLost { return true }
        guard let sqlState else { return false }
        if sqlState.hasPrefix("08") { return true }           // connection exception
        switch sqlState {
        case "57P01", "57P02", "57P03":                       // admin/crash shutdown, cannot connect now
            return true
        case "40001", "40P01":                                // serialization failure, deadlock
            return true
        case "57014":                                         // query_canceled (statement timeout, recovery conflict)
            return true
        case "53300", "53400":                                // too many connections, configuration limit
            return true
        case "55P03":                                         // lock_not_available (lock_timeout)
            return true
        default:
            return false
        }
    }

    /// The server cancelled the statement because it ran past `statement_timeout`.
    public var isStatementTimeout: Bool { sqlState == "57014" && message.contains("statement timeout") }
}
