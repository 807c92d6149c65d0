import PostgresClient

/// What a job costs the source, in the server's own counters: heap blocks read or hit in the
/// buffer cache for the table (`pg_statio_all_tables`, so other sessions' reads of the table
/// in the same interval count too), against the table's size in blocks.
struct SourceCost {
    /// Heap blocks the table has (`pg_relation_size / block_size`).
    let tableBlocks: Int64
    private let startBlocks: Int64?
    private let tableOID: UInt32

    /// Reads the counters at the start of a job (nil for relations without them, such as views).
    static func start(_ connection: PostgresConnection, tableOID: UInt32?) -> SourceCost? {
        guard let tableOID, connection.serverVersion >= 150000 else { return nil }
        guard let size = try? connection.query(
            "SELECT pg_catalog.pg_relation_size($1) / current_setting('block_size')::bigint", [String(tableOID)], types: [26]),
              let blocks = Int64(size.string(0, 0) ?? "") else { return nil }
        return SourceCost(tableBlocks: blocks, startBlocks: heapBlocks(connection, tableOID), tableOID: tableOID)
    }

    /// Heap blocks touched since `start` (nil when the counters cannot be read).
    func blocksSinceStart(_ connection: PostgresConnection) -> Int64? {
        guard let startBlocks, let now = Self.heapBlocks(connection, tableOID) else { return nil }
        return now - startBlocks
    }

    private static func heapBlocks(_ connection: PostgresConnection, _ oid: UInt32) -> Int64? {
        // This session's own counters reach the shared statistics only when it flushes them.
        _ = try? connection.execute("SELECT pg_catalog.pg_stat_force_next_flush()")
        _ = try? connection.execute("SELECT 1")
        guard let result = try? connection.query(
            "SELECT coalesce(heap_blks_read, 0) + coalesce(heap_blks_hit, 0) FROM pg_catalog.pg_statio_all_tables WHERE relid = $1",
            [String(oid)], types: [26]), result.rowCount == 1 else { return nil }
        return Int64(result.string(0, 0) ?? "")
    }

    /// Whether a valid btree index leads with the cursor column, so a segment can walk it.
    static func cursorIsIndexed(_ connection: PostgresConnection, tableOID: UInt32, cursor: String) throws -> Bool {
        try connection.query(
            """
            SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_index i
                           JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
                           JOIN pg_catalog.pg_am m ON m.oid = c.relam
                           JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                           WHERE i.indrelid = $1 AND i.indisvalid AND m.amname = 'btree' AND i.indpred IS NULL
                             AND a.attname = $2)
            """, [String(tableOID), cursor], types: [26, 0]).string(0, 0) == "t"
    }
}
