import PostgresClient

/// The column facts the browse view adds to the extraction's catalog read.
struct ColumnDetails {
    var identity = false
    var generated = false
    var defaultExpression: String?
    var maxLength: Int64?
    var precision: Int64?
    var scale: Int64?
    var comment: String?
    /// A valid, whole-table btree index leads with the column (what the extractor looks for).
    var leadsAnIndex = false

    static func read(oid: String, on connection: PostgresConnection) throws -> [String: ColumnDetails] {
        let rows = try connection.query(
            """
            SELECT a.attname, a.attidentity <> '' OR coalesce(pg_catalog.pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%', false),
                   a.attgenerated <> '', CASE WHEN a.attgenerated = '' THEN pg_catalog.pg_get_expr(d.adbin, d.adrelid) END,
                   CASE WHEN b.typname IN ('varchar', 'bpchar') THEN CASE WHEN a.atttypmod >= 4 THEN a.atttypmod - 4 ELSE -1 END
                        WHEN b.typname IN ('text', 'bytea', 'json', 'jsonb', 'xml') THEN -1 END,
                   CASE WHEN b.typname = 'numeric' AND a.atttypmod >= 4 THEN ((a.atttypmod - 4) >> 16) & 65535 END,
                   CASE WHEN b.typname = 'numeric' AND a.atttypmod >= 4 THEN (a.atttypmod - 4) & 65535 END,
                   pg_catalog.col_description(a.attrelid, a.attnum),
                   EXISTS (SELECT 1 FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
                           JOIN pg_catalog.pg_am m ON m.oid = ic.relam
                           WHERE i.indrelid = a.attrelid AND i.indisvalid AND i.indpred IS NULL AND m.amname = 'btree'
                             AND i.indkey[0] = a.attnum)
            FROM pg_catalog.pg_attribute a
            JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
            JOIN pg_catalog.pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
            LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
            """, [oid])
        var details: [String: ColumnDetails] = [:]
        for row in 0..<rows.rowCount {
            details[rows.string(row, 0) ?? ""] = ColumnDetails(
                identity: rows.string(row, 1) == "t", generated: rows.string(row, 2) == "t", defaultExpression: rows.string(row, 3),
                maxLength: rows.string(row, 4).flatMap { Int64($0) }, precision: rows.string(row, 5).flatMap { Int64($0) },
                scale: rows.string(row, 6).flatMap { Int64($0) }, comment: rows.string(row, 7), leadsAnIndex: rows.string(row, 8) == "t")
        }
        return details
    }
}
