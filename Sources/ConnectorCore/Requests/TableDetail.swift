import PostgresClient

/// A table's indexes, foreign keys and check constraints, as the browse detail shows them.
enum TableDetail {
    static func indexes(oid: String, on connection: PostgresConnection) throws -> [JSONValue] {
        let rows = try connection.query(
            """
            SELECT ic.relname, i.indisunique, i.indisprimary, am.amname,
                   array_to_string(ARRAY(SELECT pg_catalog.pg_get_indexdef(i.indexrelid, k, true)
                                         FROM generate_series(1, i.indnkeyatts) k ORDER BY k), chr(1))
            FROM pg_catalog.pg_index i
            JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
            JOIN pg_catalog.pg_am am ON am.oid = ic.relam
            WHERE i.indrelid = $1 ORDER BY ic.relname
            """, [oid])
        return (0..<rows.rowCount).map { row in
            .object([("name", .string(rows.string(row, 0) ?? "")), ("unique", .bool(rows.string(row, 1) == "t")),
                     ("primary", .bool(rows.string(row, 2) == "t")), ("columns", names(rows.string(row, 4))),
                     ("kind", .string(rows.string(row, 3) ?? ""))])
        }
    }

    static func foreignKeys(oid: String, on connection: PostgresConnection) throws -> [JSONValue] {
        let rows = try connection.query(
            """
            SELECT con.conname,
                   array_to_string(ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, p)
                       JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.p), chr(1)),
                   rn.nspname, rc.relname,
                   array_to_string(ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(n, p)
                       JOIN pg_catalog.pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.p), chr(1)),
                   con.confdeltype, con.confupdtype
            FROM pg_catalog.pg_constraint con
            JOIN pg_catalog.pg_class rc ON rc.oid = con.confrelid
            JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace
            WHERE con.conrelid = $1 AND con.contype = 'f' ORDER BY con.conname
            """, [oid])
        return (0..<rows.rowCount).map { row in
            .object([("name", .string(rows.string(row, 0) ?? "")), ("columns", names(rows.string(row, 1))),
                     ("ref_schema", .string(rows.string(row, 2) ?? "")), ("ref_table", .string(rows.string(row, 3) ?? "")),
                     ("ref_columns", names(rows.string(row, 4))),
                     ("on_delete", .string(action(rows.string(row, 5)))), ("on_update", .string(action(rows.string(row, 6))))])
        }
    }

    static func checks(oid: String, on connection: PostgresConnection) throws -> [JSONValue] {
        let rows = try connection.query(
            """
            SELECT conname, pg_catalog.pg_get_constraintdef(oid, true) FROM pg_catalog.pg_constraint
            WHERE conrelid = $1 AND contype = 'c' ORDER BY conname
            """, [oid])
        return (0..<rows.rowCount).map { row in
            .object([("name", .string(rows.string(row, 0) ?? "")), ("definition", .string(rows.string(row, 1) ?? ""))])
        }
    }

    private static func names(_ joined: String?) -> JSONValue {
        .array((joined ?? "").split(separator: "\u{1}").map { .string(String($0)) })
    }

    /// `pg_constraint.confdeltype` / `confupdtype` in SQL words.
    private static func action(_ code: String?) -> String {
        switch code {
        case "r": return "RESTRICT"
        case "c": return "CASCADE"
        case "n": return "SET NULL"
        case "d": return "SET DEFAULT"
        default: return "NO ACTION"
        }
    }
}
