import PostgresClient

/// Answers `browse:describe`: connection names, tables, columns and a table's detail, read from
/// the Postgres catalog through the connection's allow-list. System schemas stay hidden unless
/// the allow-list names them. Answers follow the platform's shapes (docs/protocol.md, "Browse").
public struct SourceBrowser {
    public let connections: Connections

    public init(connections: Connections) { self.connections = connections }

    /// `{connections: [name, ...]}`: names only, never a DSN.
    public func connectionNames() -> JSONValue {
        .object([("connections", .array(connections.entries.keys.sorted().map(JSONValue.string)))])
    }

    /// `{tables: [{schema, name, approx_rows}]}`: the tables, views and matviews the allow-list lets through.
    public func tables(connectionRef: String) throws -> JSONValue {
        try withSource(connectionRef) { settings, connection in
            let rows = try connection.execute(
                """
                SELECT n.nspname, c.relname, c.reltuples::bigint, c.relkind
                FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
                  AND (pg_catalog.has_table_privilege(c.oid, 'SELECT') OR pg_catalog.has_any_column_privilege(c.oid, 'SELECT'))
                ORDER BY 1, 2
                """)
            var tables: [JSONValue] = []
            for row in 0..<rows.rowCount {
                let schema = rows.string(row, 0) ?? "", name = rows.string(row, 1) ?? ""
                guard settings.allows(schema: schema, table: name) else { continue }
                let estimate = Int64(rows.string(row, 2) ?? "") ?? -1
                tables.append(.object([("schema", .string(schema)), ("name", .string(name)),
                                       ("approx_rows", .number(String(estimate < 0 ? -1 : estimate)))]))
            }
            return .object([("tables", .array(tables))])
        }
    }

    /// `{columns: [ColumnView]}`.
    public func columns(connectionRef: String, schema: String, table: String) throws -> JSONValue {
        try withTable(connectionRef, schema: schema, table: table) { described, connection in
            .object([("columns", .array(try columnViews(described, on: connection)))])
        }
    }

    /// `{schema, name, approx_rows, columns, indexes, foreign_keys, check_constraints, comment?, size_bytes?}`.
    public func table(connectionRef: String, schema: String, table: String) throws -> JSONValue {
        try withTable(connectionRef, schema: schema, table: table) { described, connection in
            let oid = String(described.oid ?? 0)
            var members: [(String, JSONValue)] = [
                ("schema", .string(schema)), ("name", .string(table)),
                ("approx_rows", .number(String(max(-1, described.estimatedRows)))),
                ("columns", .array(try columnViews(described, on: connection))),
                ("indexes", .array(try TableDetail.indexes(oid: oid, on: connection))),
                ("foreign_keys", .array(try TableDetail.foreignKeys(oid: oid, on: connection))),
                ("check_constraints", .array(try TableDetail.checks(oid: oid, on: connection))),
            ]
            let facts = try connection.query(
                """
                SELECT pg_catalog.obj_description(c.oid, 'pg_class'),
                       CASE WHEN c.relkind IN ('r', 'm', 'p', 't') THEN pg_catalog.pg_total_relation_size(c.oid) END
                FROM pg_catalog.pg_class c WHERE c.oid = $1
                """, [oid])
            if let comment = facts.string(0, 0) { members.append(("comment", .string(comment))) }
            if let size = facts.string(0, 1) { members.append(("size_bytes", .number(size))) }
            return .object(members)
        }
    }

    private func withSource<T>(_ ref: String, _ body: (ConnectionSettings, PostgresConnection) throws -> T) throws -> T {
        do {
            let settings = try connections.settings(for: ref)
            let connection = try SourceSession.open(settings, jobID: "browse")
            return try body(settings, connection)
        } catch {
            throw RequestError.from(error, connectionRef: ref)
        }
    }

    private func withTable<T>(_ ref: String, schema: String, table: String,
                              _ body: (SourceTable, PostgresConnection) throws -> T) throws -> T {
        try withSource(ref) { settings, connection in
            guard settings.allows(schema: schema, table: table) else {
                throw RequestError(.forbidden, ConnectionSettings.isSystemSchema(schema)
                    ? "schema: \(schema) is a system schema; connection \"\(ref)\" must name it in allow.schemas to browse it"
                    : "table: \(schema).\(table) is not allowed by connection \"\(ref)\"")
            }
            let described: SourceTable
            do {
                described = try SourceCatalog.describe(schema: schema, table: table, on: connection)
            } catch let error as JobSpecError {
                throw RequestError(.notFound, error.description.replacingPrefix("source.", with: ""))
            }
            let readable = try connection.query(
                "SELECT pg_catalog.has_table_privilege($1::oid, 'SELECT') OR pg_catalog.has_any_column_privilege($1::oid, 'SELECT')",
                [String(described.oid ?? 0)]).string(0, 0) == "t"
            guard readable else {
                throw RequestError(.forbidden, "table: the role of connection \"\(ref)\" cannot read \(schema).\(table)")
            }
            return try body(described, connection)
        }
    }

    private func columnViews(_ table: SourceTable, on connection: PostgresConnection) throws -> [JSONValue] {
        let details = try ColumnDetails.read(oid: String(table.oid ?? 0), on: connection)
        return table.columns.map { column in
            let detail = details[column.name] ?? ColumnDetails()
            var view: [(String, JSONValue)] = [
                ("name", .string(column.name)), ("data_type", .string(column.declaredType)),
                ("nullable", .bool(!column.notNull)), ("cursor_candidate", .bool(Self.isCursorCandidate(column))),
                // Extension: whether an index leads with the column; an unindexed cursor reads in segments.
                ("cursor_indexed", .bool(detail.leadsAnIndex)),
            ]
            if let position = table.primaryKey.firstIndex(of: column.name) { view.append(("pk_position", .number(String(position + 1)))) }
            // Unique on its own, NULLs included (a nullable unique column may repeat NULL).
            let unique = table.primaryKey == [column.name] || (table.uniqueColumns.contains(column.name) && column.notNull)
            view.append(("unique", .bool(unique)))
            view.append(("identity", .bool(detail.identity)))
            view.append(("generated", .bool(detail.generated)))
            if let value = detail.defaultExpression { view.append(("default", .string(value))) }
            if let value = detail.maxLength { view.append(("max_length", .number(String(value)))) }
            if let value = detail.precision { view.append(("numeric_precision", .number(String(value)))) }
            if let value = detail.scale { view.append(("numeric_scale", .number(String(value)))) }
            if let value = detail.comment { view.append(("comment", .string(value))) }
            return .object(view)
        }
    }

    /// Usable as a job's `cursor_column`: an ordered type whose values grow as rows are written
    /// (integers, exact numerics, timestamps, dates).
    static func isCursorCandidate(_ column: SourceColumn) -> Bool {
        guard column.orderable else { return false }
        switch column.kind {
        case .integer, .numeric, .timestamp, .timestamptz: return true
        default: return column.baseTypeName == "date"
        }
    }
}

extension String {
    func replacingPrefix(_ prefix: String, with replacement: String) -> String {
        hasPrefix(prefix) ? replacement + dropFirst(prefix.count) : self
    }
}
