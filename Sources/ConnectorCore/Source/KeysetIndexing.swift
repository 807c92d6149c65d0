import PostgresClient

/// How well the source's btree indexes serve a read in keyset order (the cursor, then the
/// tie-breaker), which decides how the read is cut into segments.
public enum KeysetIndexing: Sendable, Equatable {
    /// An index leads with the whole keyset: a segment reopens with an index range scan.
    case full
    /// An index leads with the cursor alone and ties are few: a range scan and a small
    /// incremental sort of each tie group.
    case cursorWithLightTies
    /// An index leads with the cursor alone but values repeat heavily (`rowsPerValue`, nil when the
    /// table was never analysed): every reopened segment would read and sort a whole tie group again.
    case cursorWithHeavyTies(rowsPerValue: Int64?)
    /// No index leads with the cursor.
    case none

    /// Whether short segments can reopen cheaply (else one held segment per pass).
    public var reopensCheaply: Bool {
        switch self {
        case .full, .cursorWithLightTies: return true
        case .cursorWithHeavyTies, .none: return false
        }
    }

    /// Above this many rows per cursor value (the commonest, or on average) ties count as heavy.
    public static let heavyTieRows: Int64 = 10_000

    public static func assess(_ connection: PostgresConnection, table: SourceTable, keyset: [String]) throws -> KeysetIndexing {
        guard let oid = table.oid, let cursor = keyset.first else { return .none }
        let leading = try leadingColumns(connection, tableOID: oid, count: keyset.count)
        if leading.contains(where: { Array($0.prefix(keyset.count)) == keyset }) { return .full }
        guard leading.contains(where: { $0.first == cursor }) else { return .none }
        let rowsPerValue = try commonestValueRows(connection, table: table, column: cursor)
        guard let rowsPerValue, rowsPerValue <= heavyTieRows else { return .cursorWithHeavyTies(rowsPerValue: rowsPerValue) }
        return .cursorWithLightTies
    }

    /// The first `count` key columns of every valid, non-partial btree index ("" for an expression).
    private static func leadingColumns(_ connection: PostgresConnection, tableOID: UInt32, count: Int) throws -> [[String]] {
        let result = try connection.query(
            """
            SELECT i.indexrelid, coalesce(a.attname, '')
            FROM pg_catalog.pg_index i
            JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
            JOIN pg_catalog.pg_am m ON m.oid = c.relam
            CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position)
            LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum AND k.attnum > 0
            WHERE i.indrelid = $1 AND i.indisvalid AND m.amname = 'btree' AND i.indpred IS NULL
              AND k.position <= least($2, i.indnkeyatts)
            ORDER BY i.indexrelid, k.position
            """, [String(tableOID), String(count)], types: [26, 23])
        var indexes: [[String]] = []
        var current: String?
        for row in 0..<result.rowCount {
            let index = result.string(row, 0)
            if index != current { indexes.append([]); current = index }
            indexes[indexes.count - 1].append(result.string(row, 1) ?? "")
        }
        return indexes
    }

    /// Rows the commonest cursor value holds, from the planner's statistics (or the average per
    /// value when none stands out); nil when the column was never analysed.
    private static func commonestValueRows(_ connection: PostgresConnection, table: SourceTable, column: String) throws -> Int64? {
        let result = try connection.query(
            """
            SELECT max(greatest(coalesce(s.most_common_freqs[1], 0) * greatest(c.reltuples, 0),
                                CASE WHEN s.n_distinct > 0 THEN greatest(c.reltuples, 0) / s.n_distinct
                                     WHEN s.n_distinct < 0 THEN 1 / -s.n_distinct END))::bigint
            FROM pg_catalog.pg_stats s, pg_catalog.pg_class c
            WHERE c.oid = $1 AND s.schemaname = $2 AND s.tablename = $3 AND s.attname = $4
            """, [String(table.oid ?? 0), table.schema, table.name, column], types: [26, 0, 0, 0])
        return result.string(0, 0).flatMap { Int64($0) }
    }
}
