import PostgresClient

/// Reads a table's shape from the Postgres catalog; names are matched exactly (no case folding).
public enum SourceCatalog {
    public static func describe(schema: String, table: String, on connection: PostgresConnection) throws -> SourceTable {
        let relation = try connection.query(
            """
            SELECT c.oid, c.relkind, c.reltuples::bigint, NULLIF(c.relfilenode, 0)
            FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
            """, [schema, table])
        guard relation.rowCount == 1, let oid = relation.string(0, 0) else {
            let schemaExists = try connection.query(
                "SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1", [schema]).rowCount == 1
            if !schemaExists {
                throw JobSpecError(field: "source.schema", problem: "schema \"\(schema)\" not found")
            }
            throw JobSpecError(field: "source.table", problem: "table \"\(table)\" not found in schema \"\(schema)\"")
        }
        let estimate = Int64(relation.string(0, 2) ?? "-1") ?? -1
        let relkind = relation.string(0, 1) ?? "r"

        let columnRows = try connection.query(
            """
            SELECT a.attname, a.atttypid, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull,
                   b.typname, b.typcategory, b.typtype = 'e',
                   EXISTS (SELECT 1 FROM pg_catalog.pg_opclass o JOIN pg_catalog.pg_am m ON m.oid = o.opcmethod
                           WHERE m.amname = 'btree' AND o.opcdefault
                             AND (o.opcintype = b.oid OR (b.typcategory = 'A' AND o.opcintype = 'anyarray'::regtype)
                                  OR (b.typtype = 'e' AND o.opcintype = 'anyenum'::regtype))),
                   a.attnum
            FROM pg_catalog.pg_attribute a
            JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
            JOIN pg_catalog.pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
            WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attnum
            """, [oid])
        var columns: [SourceColumn] = []
        for row in 0..<columnRows.rowCount {
            let baseType = columnRows.string(row, 4) ?? ""
            let category = columnRows.string(row, 5) ?? ""
            let isEnum = columnRows.string(row, 6) == "t"
            columns.append(SourceColumn(
                name: columnRows.string(row, 0) ?? "",
                typeOID: UInt32(columnRows.string(row, 1) ?? "0") ?? 0,
                declaredType: columnRows.string(row, 2) ?? "",
                baseTypeName: baseType,
                notNull: columnRows.string(row, 3) == "t",
                kind: ColumnKind.forPostgres(typeName: baseType, category: category, isEnum: isEnum),
                orderable: columnRows.string(row, 7) == "t",
                attnum: columnRows.string(row, 8).flatMap { Int($0) }))
        }

        let keyRows = try connection.query(
            """
            SELECT a.attname
            FROM pg_catalog.pg_index i
            CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position)
            JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
            WHERE i.indrelid = $1 AND i.indisprimary AND i.indisvalid
            ORDER BY k.position
            """, [oid])
        let primaryKey = (0..<keyRows.rowCount).compactMap { keyRows.string($0, 0) }

        let uniqueRows = try connection.query(
            """
            SELECT a.attname
            FROM pg_catalog.pg_index i
            JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
            WHERE i.indrelid = $1 AND i.indisunique AND i.indnkeyatts = 1 AND \(soundUniqueIndex)
            """, [oid])
        let unique = Set((0..<uniqueRows.rowCount).compactMap { uniqueRows.string($0, 0) })

        var described = SourceTable(schema: schema, name: table, columns: columns, primaryKey: primaryKey,
                                    uniqueColumns: unique, estimatedRows: estimate)
        described.oid = UInt32(oid)
        described.relkind = relkind
        described.filenode = relation.string(0, 3)
        if primaryKey.isEmpty {
            described.uniqueKey = try uniqueKey(of: described, oid: oid, on: connection)
        }
        return described
    }

    /// Only an index that proves uniqueness counts: valid (a failed `CREATE UNIQUE INDEX
    /// CONCURRENTLY` leaves an invalid one), enforced immediately, whole-table, on plain columns.
    static let soundUniqueIndex = "i.indisvalid AND i.indimmediate AND i.indpred IS NULL AND i.indexprs IS NULL"

    /// A table without a primary key may still have a unique key: the first sound unique index
    /// whose columns hold no NULL (NOT NULL on a table; checked with a scan on a materialized
    /// view, whose columns carry no NOT NULL flag).
    private static func uniqueKey(of table: SourceTable, oid: String, on connection: PostgresConnection) throws -> [String] {
        let indexes = try connection.query(
            """
            SELECT i.indexrelid, array_to_string(ARRAY(
                     SELECT a.attname FROM unnest(i.indkey[0:i.indnkeyatts - 1]) WITH ORDINALITY AS k(attnum, position)
                     JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                     ORDER BY k.position), chr(1))
            FROM pg_catalog.pg_index i
            WHERE i.indrelid = $1 AND i.indisunique AND \(soundUniqueIndex)
            ORDER BY i.indnkeyatts, i.indexrelid
            """, [oid])
        for row in 0..<indexes.rowCount {
            let names = (indexes.string(row, 1) ?? "").split(separator: "\u{1}").map(String.init)
            let keyColumns = names.compactMap { table.column($0) }
            guard !keyColumns.isEmpty, keyColumns.count == names.count, keyColumns.allSatisfy(\.orderable) else { continue }
            if keyColumns.allSatisfy(\.notNull) { return names }
            if table.relkind == "m" {
                let anyNull = keyColumns.map { "\(SQLIdentifier.quote($0.name)) IS NULL" }.joined(separator: " OR ")
                let sql = "SELECT EXISTS (SELECT 1 FROM \(SQLIdentifier.quote(schema: table.schema, table: table.name)) WHERE \(anyNull))"
                if try connection.execute(sql).string(0, 0) == "f" { return names }
            }
        }
        return []
    }
}
