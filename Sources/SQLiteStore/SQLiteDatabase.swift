import CSQLite
#if canImport(Glibc)
import Glibc
#endif

/// One SQLite connection. Not thread-safe: use it from one thread at a time (owners that share one
/// across threads guard it with a lock).
public final class SQLiteDatabase {
    let handle: OpaquePointer
    public let path: String
    /// Keeps the context of a progress handler or authorizer alive as long as the connection.
    var callbackContext: AnyObject?

    /// Process-wide settings, applied once before the first connection (SQLite requires that).
    private static let configured: Bool = {
        _ = csqlite_disable_memory_statistics()
        return true
    }()

    /// Opens (creating if needed) the database file at `path`.
    public init(path: String, readOnly: Bool = false) throws {
        _ = Self.configured
        var raw: OpaquePointer?
        let flags = (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
            | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE | SQLITE_OPEN_NOFOLLOW
        let code = sqlite3_open_v2(path, &raw, flags, nil)
        guard code == SQLITE_OK, let raw else {
            let message = raw.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            if let raw { sqlite3_close_v2(raw) }
            throw SQLiteError(code: code, message: message, path: path)
        }
        handle = raw
        self.path = path
        sqlite3_busy_timeout(handle, Int32(Self.busyTimeoutMs))
    }

    /// How long a statement waits for a lock another connection holds.
    public static let busyTimeoutMs = 5_000

    /// Runs `body` waiting at most `ms` for locks, then the usual `busyTimeoutMs` again.
    public func withBusyTimeout<T>(ms: Int, _ body: () throws -> T) rethrows -> T {
        sqlite3_busy_timeout(handle, Int32(ms))
        defer { sqlite3_busy_timeout(handle, Int32(Self.busyTimeoutMs)) }
        return try body()
    }

    deinit { sqlite3_close_v2(handle) }

    /// Opens a database for a writer that commits often while others read: WAL journal (readers never
    /// block the writer) and NORMAL sync, which survives a killed process (only an OS crash may drop
    /// the last commits, never corrupt the file). `pageSize` applies to a new file only.
    public static func openWAL(path: String, pageSize: Int = 4096) throws -> SQLiteDatabase {
        // Connections setting up one new file at once (jobs of one KB starting together) collide
        // in ways SQLite does not wait out: the change to WAL answers SQLITE_BUSY at once, without
        // the busy handler (two connections upgrading their locks would deadlock), and one that
        // reads the file while another is creating it can find "not a database". Both are waited
        // out like any other lock, up to `busyTimeoutMs`, with a new connection each time; a file
        // that existed and is not a database still fails at once.
        var info = stat()
        let isNew = stat(path, &info) != 0 || info.st_size == 0
        var waitedMs = 0
        while true {
            let database = try SQLiteDatabase(path: path)
            do {
                try database.execute("PRAGMA page_size = \(pageSize); PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL")
                return database
            } catch let error as SQLiteError where waitedMs < busyTimeoutMs
                        && (error.code & 0xff == SQLITE_BUSY || (isNew && error.code & 0xff == SQLITE_NOTADB)) {
                waitedMs += Int(sqlite3_sleep(10))
            }
        }
    }

    /// The page size of new KB files: SQLite's default. A row merged at a random key rewrites its
    /// whole page (into the WAL, then back into the file), so the page is what a random write
    /// costs: 64 KiB pages made each merged row cost 64 KiB of writes (bench/README.md, "Any order").
    public static let kbPageSize = 4096

    /// Rows changed by the last INSERT, UPDATE or DELETE on this connection.
    public var changes: Int { Int(sqlite3_changes(handle)) }

    /// `PRAGMA quick_check`: nil when the file is sound, else SQLite's first findings.
    public func quickCheck() throws -> String? {
        let findings = try rows("PRAGMA quick_check(5)").compactMap { $0.first?.text }
        return findings == ["ok"] ? nil : findings.joined(separator: "; ")
    }

    /// Runs one or more statements that return no rows.
    public func execute(_ sql: String) throws {
        var errorMessage: UnsafeMutablePointer<CChar>?
        let code = sqlite3_exec(handle, sql, nil, nil, &errorMessage)
        if code != SQLITE_OK {
            let message = errorMessage.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            sqlite3_free(errorMessage)
            throw SQLiteError(code: code, message: message, sql: sql, path: path)
        }
    }

    /// Runs one statement with `arguments` bound to its `?` placeholders, in order.
    public func execute(_ sql: String, _ arguments: [SQLiteValue]) throws {
        try prepare(sql).run(arguments)
    }

    /// Prepares exactly one statement. SQL holding a second statement, or a NUL character (C would
    /// cut the text there and run a prefix), is refused: a prepared statement never becomes a script.
    public func prepare(_ sql: String) throws -> SQLiteStatement {
        if sql.utf8.contains(0) {
            throw SQLiteError(code: SQLITE_MISUSE, message: "SQL text holds a NUL character", sql: sql, path: path)
        }
        var raw: OpaquePointer?
        let code: Int32 = sql.withCString { text in
            var tail: UnsafePointer<CChar>?
            var code = sqlite3_prepare_v3(handle, text, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &raw, &tail)
            guard code == SQLITE_OK, let tail, tail.pointee != 0 else { return code }
            // Whatever follows the first statement must be empty (white space, comments, semicolons).
            var next: OpaquePointer?
            code = sqlite3_prepare_v2(handle, tail, -1, &next, nil)
            if next != nil || code != SQLITE_OK {
                sqlite3_finalize(next)
                sqlite3_finalize(raw)
                raw = nil
                return code == SQLITE_OK ? SQLITE_MISUSE : code
            }
            return SQLITE_OK
        }
        guard code == SQLITE_OK, let raw else {
            if code == SQLITE_MISUSE {
                throw SQLiteError(code: code, message: "expected one SQL statement, found more", sql: sql, path: path)
            }
            throw error(code, sql: sql)
        }
        return SQLiteStatement(handle: raw, database: self, sql: sql)
    }

    /// Rows of a query, each as text-or-nil cells; for small metadata reads, not the data path.
    public func rows(_ sql: String, _ arguments: [SQLiteValue] = []) throws -> [[SQLiteValue]] {
        let statement = try prepare(sql)
        for (index, argument) in arguments.enumerated() { try statement.bind(argument, at: index + 1) }
        var rows: [[SQLiteValue]] = []
        while try statement.step() {
            rows.append((0..<statement.columnCount).map { statement.value(at: $0) })
        }
        return rows
    }

    /// Runs `body` inside BEGIN IMMEDIATE / COMMIT, rolling back if it throws.
    public func transaction<R>(_ body: () throws -> R) throws -> R {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    func error(_ code: Int32, sql: String?) -> SQLiteError {
        SQLiteError(code: code, message: String(cString: sqlite3_errmsg(handle)), sql: sql, path: path)
    }
}
