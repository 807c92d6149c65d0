import CSQLite
/// An error from SQLite, with its result code, message and the SQL that failed.
public struct SQLiteError: Error, CustomStringConvertible, CustomDebugStringConvertible, Sendable {
    public let code: Int32
    public let message: String
    public let sql: String?
    /// The database file, so a full disk or a read-only directory names where.
    public let path: String?

    public init(code: Int32, message: String, sql: String? = nil, path: String? = nil) {
        self.code = code
        self.message = message
        self.sql = sql
        self.path = path
    }

    public var description: String {
        let place = path.map { " (\($0))" } ?? ""
        return "sqlite: \(message) [code \(code)]\(place)"
    }

    public var debugDescription: String {
        guard let sql else { return description }
        return "\(description) in: \(sql)"
    }

    /// The disk (or the filesystem quota) is full: SQLITE_FULL.
    public var isDiskFull: Bool { code & 0xff == SQLITE_FULL }
}
