import CSQLite

/// A value read from or bound to SQLite.
public enum SQLiteValue: Equatable, Sendable, CustomStringConvertible {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    public var description: String {
        switch self {
        case .null: return "NULL"
        case .integer(let value): return String(value)
        case .real(let value): return String(value)
        case .text(let value): return value
        case .blob(let value): return "x'" + value.map { String($0, radix: 16).leftPadded(2) }.joined() + "'"
        }
    }

    public var text: String? {
        if case .text(let value) = self { return value }
        return nil
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

// SQLITE_TRANSIENT tells SQLite to copy the bytes; SQLITE_STATIC that they outlive the step.
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// A prepared statement. Freed in `deinit`.
public final class SQLiteStatement {
    let handle: OpaquePointer
    unowned let database: SQLiteDatabase
    let sql: String

    init(handle: OpaquePointer, database: SQLiteDatabase, sql: String) {
        self.handle = handle
        self.database = database
        self.sql = sql
    }

    deinit { sqlite3_finalize(handle) }

    public var columnCount: Int { Int(sqlite3_column_count(handle)) }

    /// Steps once; true while a row is available.
    @discardableResult
    public func step() throws -> Bool {
        let code = sqlite3_step(handle)
        if code == SQLITE_ROW { return true }
        if code == SQLITE_DONE { return false }
        throw database.error(code, sql: sql)
    }

    /// Runs a statement that returns no rows, then resets it for the next use.
    public func run() throws {
        defer { sqlite3_reset(handle) }
        let code = sqlite3_step(handle)
        if code != SQLITE_DONE && code != SQLITE_ROW { throw database.error(code, sql: sql) }
    }

    /// Binds `arguments` to the `?` placeholders in order, runs, resets.
    public func run(_ arguments: [SQLiteValue]) throws {
        for (index, argument) in arguments.enumerated() { try bind(argument, at: index + 1) }
        try run()
    }

    public func bind(_ value: SQLiteValue, at index: Int) throws {
        switch value {
        case .null: try bindNull(at: index)
        case .integer(let v): try bindInteger(v, at: index)
        case .real(let v): try bindReal(v, at: index)
        case .text(let v): try bindText(v, at: index)
        case .blob(let v): try v.withUnsafeBufferPointer { try bindBlob(UnsafeRawBufferPointer($0), at: index) }
        }
    }

    public func bindNull(at index: Int) throws {
        try check(sqlite3_bind_null(handle, Int32(index)))
    }

    public func bindInteger(_ value: Int64, at index: Int) throws {
        try check(sqlite3_bind_int64(handle, Int32(index), value))
    }

    public func bindReal(_ value: Double, at index: Int) throws {
        try check(sqlite3_bind_double(handle, Int32(index), value))
    }

    public func bindText(_ value: String, at index: Int) throws {
        var value = value
        try value.withUTF8 { try bindTextCopy($0, at: index) }
    }

    /// Binds UTF-8 bytes that stay valid until the statement is stepped (no copy).
    public func bindTextNoCopy(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) throws {
        let pointer = UnsafeRawPointer(bytes.baseAddress ?? UnsafePointer(bitPattern: 1)!).assumingMemoryBound(to: CChar.self)
        try check(sqlite3_bind_text(handle, Int32(index), pointer, Int32(bytes.count), nil))
    }

    /// Binds UTF-8 bytes that SQLite copies.
    public func bindTextCopy(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) throws {
        let pointer = UnsafeRawPointer(bytes.baseAddress ?? UnsafePointer(bitPattern: 1)!).assumingMemoryBound(to: CChar.self)
        try check(sqlite3_bind_text(handle, Int32(index), pointer, Int32(bytes.count), transient))
    }

    public func bindBlob(_ bytes: UnsafeRawBufferPointer, at index: Int) throws {
        try check(sqlite3_bind_blob64(handle, Int32(index), bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, UInt64(bytes.count), transient))
    }

    /// Binds the first `count` columns of `source`'s current row to parameters 1...count, as
    /// SQLite holds them (no conversion): copies a staged row into another statement.
    public func bindColumns(of source: SQLiteStatement, count: Int) throws {
        for column in 0..<count {
            try check(sqlite3_bind_value(handle, Int32(column + 1), sqlite3_column_value(source.handle, Int32(column))))
        }
    }

    /// Resets a statement stepped with `step()` so it can run again from its first row.
    public func reset() { sqlite3_reset(handle) }

    /// A column of the current row as an integer (SQLite's conversion for other types).
    public func integer(at column: Int) -> Int64 { sqlite3_column_int64(handle, Int32(column)) }

    public func value(at column: Int) -> SQLiteValue {
        let c = Int32(column)
        switch sqlite3_column_type(handle, c) {
        case SQLITE_INTEGER: return .integer(sqlite3_column_int64(handle, c))
        case SQLITE_FLOAT: return .real(sqlite3_column_double(handle, c))
        case SQLITE_TEXT: return .text(String(cString: sqlite3_column_text(handle, c)))
        case SQLITE_BLOB:
            let count = Int(sqlite3_column_bytes(handle, c))
            guard count > 0, let base = sqlite3_column_blob(handle, c) else { return .blob([]) }
            return .blob(Array(UnsafeRawBufferPointer(start: base, count: count)))
        default: return .null
        }
    }

    private func check(_ code: Int32) throws {
        if code != SQLITE_OK { throw database.error(code, sql: sql) }
    }
}

extension SQLiteStatement {
    public func columnName(at column: Int) -> String {
        String(cString: sqlite3_column_name(handle, Int32(column)))
    }

    /// The declared type of a result column that comes straight from a table column.
    public func declaredType(at column: Int) -> String? {
        sqlite3_column_decltype(handle, Int32(column)).map { String(cString: $0) }
    }
}
