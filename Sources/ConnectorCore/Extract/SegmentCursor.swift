import PostgresClient

/// A segment: one read-only REPEATABLE READ transaction holding a `NO SCROLL` cursor over the
/// keyset query from a position, read with `FETCH FORWARD n`. One segment costs one scan of the
/// table (or one index range scan), however many batches it yields.
///
/// A `held` segment (no index on the cursor) declares the cursor `WITH HOLD` and commits at
/// once: the server sorts the rest of the table and keeps the result for the session, so the
/// snapshot and the table lock are released after that one scan and the batches are read from
/// the kept result with no snapshot held at all (nothing holds back VACUUM while the job is paced).
enum SegmentCursor {
    static let name = "timbal_segment"

    /// Opens the segment; returns the table's `relfilenode` as its snapshot sees it (nil when
    /// the relation has no storage of its own).
    @discardableResult
    static func open(_ connection: PostgresConnection, plan: ExtractPlan, position: KeysetPosition, held: Bool = false) throws -> String? {
        let query = KeysetQuery.make(plan: plan, position: position, limit: nil)
        try connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        do {
            // Lock before the snapshot is taken: a snapshot older than a table rewrite (ALTER
            // TYPE, VACUUM FULL, CLUSTER) sees the rewritten table as empty. LOCK takes no snapshot.
            if ["r", "p", "v"].contains(plan.table.relkind) {
                try connection.execute("LOCK TABLE \(SQLIdentifier.quote(schema: plan.table.schema, table: plan.table.name)) IN ACCESS SHARE MODE")
            }
            // A held cursor's whole result is computed at COMMIT, so the plan is chosen for its
            // total cost (one scan and sort), not for its first rows (an index walk in tie order
            // that visits heap blocks at random).
            if held { try connection.execute("SET LOCAL cursor_tuple_fraction = 1") }
            // Before the cursor's query names them (a dropped column would fail it with the
            // server's bare 42703); the table's lock keeps them as they are until the segment ends.
            try verifyColumns(connection, plan: plan)
            let hold = held ? " WITH HOLD" : ""
            try connection.query("DECLARE \(name) NO SCROLL CURSOR\(hold) FOR \(query.sql)", query.parameters, types: query.parameterTypes)
            let filenode = try verifyNotRewritten(connection, plan: plan)
            // A held cursor's result is computed and kept by the server at commit.
            if held { try connection.execute("COMMIT") }
            return filenode
        } catch {
            close(connection)
            throw error
        }
    }

    /// A relation that cannot be locked first (a materialized view) may have been rewritten
    /// after the snapshot was taken (REFRESH): then the segment is retried with a new snapshot.
    /// Returns the relation's `relfilenode` (nil without storage of its own).
    static func verifyNotRewritten(_ connection: PostgresConnection, plan: ExtractPlan) throws -> String? {
        guard let oid = plan.table.oid else { return nil }
        let result = try connection.query(
            """
            SELECT pg_catalog.pg_relation_filenode(c.oid) IS NULL OR c.relfilenode = pg_catalog.pg_relation_filenode(c.oid),
                   NULLIF(c.relfilenode, 0)
            FROM pg_catalog.pg_class c WHERE c.oid = $1
            """, [String(oid)], types: [26])
        guard result.string(0, 0) == "f" else { return result.string(0, 1) }
        throw PostgresError(kind: .server, sqlState: "40001",
                            message: "\(plan.table.qualifiedName) was rewritten after the segment's snapshot was taken; retrying with a new snapshot")
    }

    /// Fails when a projected column was dropped, replaced or retyped since the job planned its
    /// read: rows of two shapes must not mix in one KB column. A column dropped and added again
    /// (or another renamed to its name) keeps name and type but not its number, and the rows
    /// read before it hold values the source no longer has.
    static func verifyColumns(_ connection: PostgresConnection, plan: ExtractPlan) throws {
        guard let oid = plan.table.oid else { return }
        let result = try connection.query(
            """
            SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnum FROM pg_catalog.pg_attribute a
            WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
            """, [String(oid)], types: [26])
        var current: [String: (type: String, attnum: Int?)] = [:]
        for row in 0..<result.rowCount {
            current[result.string(row, 0) ?? ""] = (result.string(row, 1) ?? "", result.string(row, 2).flatMap { Int($0) })
        }
        for column in plan.projection + plan.hiddenKeys {
            guard let (type, attnum) = current[column.name] else {
                throw KBError(field: "source.columns", problem: "column \"\(column.name)\" was dropped from \(plan.table.qualifiedName) while the job ran")
            }
            if let planned = column.attnum, attnum != planned {
                throw KBError(field: "source.columns",
                              problem: "column \"\(column.name)\" of \(plan.table.qualifiedName) was dropped and added again, or another column was renamed to its name, while the job ran; run with mode replace to rebuild the KB table")
            }
            if type != column.declaredType {
                throw KBError(field: "source.columns",
                              problem: "column \"\(column.name)\" of \(plan.table.qualifiedName) changed type from \(column.declaredType) to \(type) while the job ran; run with mode replace to rebuild the KB table")
            }
        }
    }

    static func fetch(_ connection: PostgresConnection, rows: Int) throws -> PostgresResult {
        try connection.execute(fetchSQL(rows))
    }

    /// Asks for the next rows without waiting for them (`receive` collects them): the server
    /// reads while the caller hands the previous batch on.
    static func sendFetch(_ connection: PostgresConnection, rows: Int) throws {
        try connection.send(fetchSQL(rows))
    }

    static func receiveFetch(_ connection: PostgresConnection, rows: Int) throws -> PostgresResult {
        try connection.receive(fetchSQL(rows))
    }

    private static func fetchSQL(_ rows: Int) -> String { "FETCH FORWARD \(rows) FROM \(name)" }

    /// Ends the segment's transaction, or drops a held cursor's kept result (its transaction has
    /// ended already); a broken connection has nothing left to end.
    static func close(_ connection: PostgresConnection, held: Bool = false) {
        guard !connection.isBroken else { return }
        _ = try? connection.execute(held ? "CLOSE \(name)" : "ROLLBACK")
    }

    /// Whether another session waits for a lock on the table: the segment then ends early, so a
    /// migration (and everything queued behind it) is not held up by our snapshot.
    static func othersWaitForLock(_ connection: PostgresConnection, tableOID: UInt32) throws -> Bool {
        try connection.query(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_locks WHERE locktype = 'relation' AND relation = $1 AND NOT granted)",
            [String(tableOID)], types: [26]).string(0, 0) == "t"
    }
}
