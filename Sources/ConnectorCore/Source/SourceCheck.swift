import PostgresClient

/// What `timbal-connector check` learns about a connection: it opens a read-only session and asks
/// the server its version and what the role may read (within the connection's allow-list).
public enum SourceCheck {
    public struct Report: Sendable {
        public var serverVersion: String
        public var readOnly: Bool
        public var readableTables: Int
        /// Allow-listed tables the role cannot read.
        public var unreadable: [String]
        /// Powers beyond reading the role holds (superuser, server programs and files, signalling
        /// other sessions): an ad-hoc query could use them. Warned of by `check`.
        public var powers: [String] = []
    }

    public static func run(_ settings: ConnectionSettings) throws -> Report {
        let session = try SourceSession.open(settings, jobID: "check")
        let version = try session.execute("SHOW server_version").string(0, 0) ?? "?"
        let readOnly = try session.execute("SHOW default_transaction_read_only").string(0, 0) == "on"
        let readable = try session.execute(
            """
            SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
              AND has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'SELECT')
            """)
        var tables: Set<String> = []
        for row in 0..<readable.rowCount {
            let schema = readable.string(row, 0) ?? "", table = readable.string(row, 1) ?? ""
            if settings.allows(schema: schema, table: table) { tables.insert("\(schema).\(table)") }
        }
        let unreadable = settings.allowedTables.filter { !$0.hasSuffix(".*") && !tables.contains($0) }
        let roles = try session.execute(
            """
            SELECT r.rolsuper, pg_catalog.pg_has_role('pg_execute_server_program', 'MEMBER'),
                   pg_catalog.pg_has_role('pg_write_server_files', 'MEMBER'), pg_catalog.pg_has_role('pg_signal_backend', 'MEMBER')
            FROM pg_catalog.pg_roles r WHERE r.rolname = current_user
            """)
        let names = ["superuser", "pg_execute_server_program", "pg_write_server_files", "pg_signal_backend"]
        var report = Report(serverVersion: version, readOnly: readOnly, readableTables: tables.count, unreadable: unreadable)
        if roles.rowCount == 1 { report.powers = names.indices.filter { roles.string(0, $0) == "t" }.map { names[$0] } }
        return report
    }

    /// What reading `schema.table` in `cursor` order costs: whether a btree index leads with the
    /// cursor (without one, each run sorts the table once and the server keeps the sorted rows).
    public struct CursorReport: Sendable {
        public var indexed: Bool
        public var tableBytes: Int64
        public var estimatedRows: Int64
    }

    public static func cursor(_ settings: ConnectionSettings, schema: String, table: String, cursor: String) throws -> CursorReport {
        let session = try SourceSession.open(settings, jobID: "check")
        let described = try SourceCatalog.describe(schema: schema, table: table, on: session)
        guard let oid = described.oid else { return CursorReport(indexed: false, tableBytes: 0, estimatedRows: described.estimatedRows) }
        let indexed = try SourceCost.cursorIsIndexed(session, tableOID: oid, cursor: cursor)
        let bytes = Int64(try session.query("SELECT pg_catalog.pg_table_size($1::oid)", [String(oid)]).string(0, 0) ?? "0") ?? 0
        return CursorReport(indexed: indexed, tableBytes: bytes, estimatedRows: described.estimatedRows)
    }
}
