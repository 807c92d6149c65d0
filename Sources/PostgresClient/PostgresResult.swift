import CLibPQ

/// A completed query result. Owns the `PGresult` and frees it in `deinit`.
/// Cell accessors hand out pointers into libpq's memory, valid while this object lives.
public final class PostgresResult {
    let handle: OpaquePointer

    init(handle: OpaquePointer) {
        self.handle = handle
    }

    deinit { PQclear(handle) }

    public var rowCount: Int { Int(PQntuples(handle)) }
    public var columnCount: Int { Int(PQnfields(handle)) }

    public func columnName(_ column: Int) -> String {
        String(cString: PQfname(handle, Int32(column)))
    }

    public func isNull(_ row: Int, _ column: Int) -> Bool {
        PQgetisnull(handle, Int32(row), Int32(column)) == 1
    }

    /// The text form of a cell, or nil for NULL. Valid while this result lives.
    public func bytes(_ row: Int, _ column: Int) -> UnsafeBufferPointer<UInt8>? {
        let r = Int32(row), c = Int32(column)
        // libpq gives NULL a length of 0, so only an empty cell needs asking whether it is NULL.
        let length = Int(PQgetlength(handle, r, c))
        if length == 0, PQgetisnull(handle, r, c) == 1 { return nil }
        let pointer = UnsafeRawPointer(PQgetvalue(handle, r, c)!).assumingMemoryBound(to: UInt8.self)
        return UnsafeBufferPointer(start: pointer, count: length)
    }

    /// Bytes of one row's cells (their text as libpq holds it).
    public func rowBytes(_ row: Int) -> Int {
        var total = 0
        for column in 0..<Int32(columnCount) { total += Int(PQgetlength(handle, Int32(row), column)) }
        return total
    }

    public func string(_ row: Int, _ column: Int) -> String? {
        guard let cell = bytes(row, column) else { return nil }
        return String(decoding: cell, as: UTF8.self)
    }
}

// A result is handed from the fetching thread to the writing thread and then only read there.
extension PostgresResult: @unchecked Sendable {}
