#if canImport(Glibc)
import Glibc
#endif
import CSQLite

/// A read-only connection for SQL written by someone else (the plane's `/k2` queries): it can read
/// the file's tables and nothing more. Four walls, each enough on its own for part of the threat:
/// - the file is opened read-only and `ATTACH` is limited to zero databases (no new files);
/// - an authorizer allows reading, functions, recursive CTEs and a list of pragmas that only
///   read (no writing pragma, no transaction control, no temp tables or views);
/// - a statement SQLite itself calls writing (`VACUUM INTO`, `PRAGMA journal_mode`) is refused;
/// - `SQLITE_LIMIT`s cap sizes and depths, and a progress handler interrupts at a deadline.
public final class UntrustedReadConnection {
    public let database: SQLiteDatabase

    /// The caps applied to every statement.
    public struct Limits: Sendable {
        public var maxSQLBytes: Int32 = 1 << 20
        public var maxValueBytes: Int32 = 16 << 20
        public var maxExpressionDepth: Int32 = 200
        public var maxCompoundSelects: Int32 = 100
        public var maxVDBEOps: Int32 = 1_000_000
        public init() {}
    }

    /// The deadline as a monotonic instant, read by the progress handler on the query's thread.
    private final class Deadline {
        var instant = Double.infinity
        var passed = false
    }
    private let deadline = Deadline()

    public init(path: String, limits: Limits = Limits()) throws {
        database = try SQLiteDatabase(path: path, readOnly: true)
        let handle = database.handle
        sqlite3_limit(handle, SQLITE_LIMIT_ATTACHED, 0)
        sqlite3_limit(handle, SQLITE_LIMIT_SQL_LENGTH, limits.maxSQLBytes)
        sqlite3_limit(handle, SQLITE_LIMIT_LENGTH, limits.maxValueBytes)
        sqlite3_limit(handle, SQLITE_LIMIT_EXPR_DEPTH, limits.maxExpressionDepth)
        sqlite3_limit(handle, SQLITE_LIMIT_COMPOUND_SELECT, limits.maxCompoundSelects)
        sqlite3_limit(handle, SQLITE_LIMIT_VDBE_OP, limits.maxVDBEOps)
        sqlite3_limit(handle, SQLITE_LIMIT_TRIGGER_DEPTH, 1)
        sqlite3_limit(handle, SQLITE_LIMIT_WORKER_THREADS, 0)
        sqlite3_set_authorizer(handle, untrustedReadAuthorizer, nil)
        let context = Unmanaged.passUnretained(deadline).toOpaque()
        sqlite3_progress_handler(handle, 1000, { raw in
            guard let raw else { return 0 }
            let deadline = Unmanaged<Deadline>.fromOpaque(raw).takeUnretainedValue()
            if monotonicNow() >= deadline.instant { deadline.passed = true; return 1 }
            return 0
        }, context)
        database.callbackContext = deadline
    }

    /// Statements from now on are interrupted `seconds` from now.
    public func setDeadline(seconds: Double) {
        deadline.instant = monotonicNow() + seconds
        deadline.passed = false
    }

    /// Whether the last interruption came from the deadline.
    public var deadlinePassed: Bool { deadline.passed }

    /// Prepares one statement, refused unless SQLite says it does not write.
    public func prepare(_ sql: String) throws -> SQLiteStatement {
        let statement = try database.prepare(sql)
        guard sqlite3_stmt_readonly(statement.handle) != 0 else {
            throw SQLiteError(code: SQLITE_AUTH, message: "only statements that read are allowed", sql: sql)
        }
        return statement
    }
}

/// Pragmas that only read whatever their argument; everything else a pragma does is refused.
private let readingPragmas: Set<String> = [
    "table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo",
    "foreign_key_list", "collation_list", "function_list", "pragma_list",
]

/// The authorizer: a closed list of what untrusted SQL may do.
private func untrustedReadAuthorizer(_: UnsafeMutableRawPointer?, _ action: Int32, _ first: UnsafePointer<CChar>?,
                                     _ second: UnsafePointer<CChar>?, _: UnsafePointer<CChar>?, _: UnsafePointer<CChar>?) -> Int32 {
    switch action {
    case SQLITE_SELECT, SQLITE_READ, SQLITE_RECURSIVE:
        return SQLITE_OK
    case SQLITE_FUNCTION:
        // `second` is the function's name; loading extensions reaches the file system.
        guard let second else { return SQLITE_DENY }
        return String(cString: second).lowercased() == "load_extension" ? SQLITE_DENY : SQLITE_OK
    case SQLITE_UPDATE:
        // Setting up a table-valued pragma (`pragma_table_info('t')`) asks for UPDATE on
        // sqlite_master without writing it; a real write is refused by the read-only open and
        // by `sqlite3_stmt_readonly` in any case.
        guard let first else { return SQLITE_DENY }
        return String(cString: first) == "sqlite_master" ? SQLITE_OK : SQLITE_DENY
    case SQLITE_PRAGMA:
        guard let first else { return SQLITE_DENY }
        return readingPragmas.contains(String(cString: first).lowercased()) ? SQLITE_OK : SQLITE_DENY
    default:
        return SQLITE_DENY
    }
}

/// Seconds on the monotonic clock (SQLiteStore has no dependencies to borrow one from).
private func monotonicNow() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}
