import PostgresClient

/// One batch: the results of the `FETCH`es that built it, in order. A batch is capped by rows
/// (`batch_rows`) and by bytes (`batch_bytes`), so it may take more than one fetch when rows are
/// large, and memory stays bounded by bytes, not by rows.
public struct RowBatch: Sendable {
    public let parts: [PostgresResult]
    public let rowCount: Int
    /// Bytes of the cells' text, as libpq holds them.
    public let byteCount: Int
    /// The rows come in the KB table's key order (a pass by key), so they can be written as they
    /// come; rows in cursor order are staged and written in key order (see `LocalKBSink`).
    public var inKeyOrder: Bool

    public init(parts: [PostgresResult], byteCount: Int, inKeyOrder: Bool = false) {
        self.parts = parts
        self.inKeyOrder = inKeyOrder
        self.rowCount = parts.reduce(0) { $0 + $1.rowCount }
        self.byteCount = byteCount
    }
}
