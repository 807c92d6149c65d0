import CSQLite

extension SQLiteStatement {
    /// The column's integer when it holds one (nil for any other storage class): a key walk reads
    /// millions of them, without building a `SQLiteValue` each.
    public func integer(at column: Int) -> Int64? {
        let c = Int32(column)
        guard sqlite3_column_type(handle, c) == SQLITE_INTEGER else { return nil }
        return sqlite3_column_int64(handle, c)
    }
}
