import PostgresClient

/// A segment: one read-only REPEATABLE READ transaction holding a `NO SCROLL` cursor over the
/// keyset query from a position, read with `FETCH FORWARD n`. One segment costs one scan of the
/// table (or one index range scan), however many batches it yields.
enum SegmentCursor {
    static let name = "timbal_segment"

    static func open(_ connection: PostgresConnection, plan: ExtractPlan, position: KeysetPosition) throws {
        let query = KeysetQuery.make(plan: plan, position: position, limit: nil)
        try connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        do {
            try connection.query("DECLARE \(name) NO SCROLL CURSOR FOR \(query.sql)", query.parameters, types: query.parameterTypes)
        } catch {
            close(connection)
            throw error
        }
    }

    static func fetch(_ connection: PostgresConnection, rows: Int) throws -> PostgresResult {
        try connection.execute("FETCH FORWARD \(rows) FROM \(name)")
    }

    /// Ends the segment's transaction; a broken connection has nothing left to end.
    static func close(_ connection: PostgresConnection) {
        guard !connection.isBroken else { return }
        _ = try? connection.execute("ROLLBACK")
    }

    /// Whether another session waits for a lock on the table: the segment then ends early, so a
    /// migration (and everything queued behind it) is not held up by our snapshot.
    static func othersWaitForLock(_ connection: PostgresConnection, tableOID: UInt32) throws -> Bool {
        try connection.query(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_locks WHERE locktype = 'relation' AND relation = $1 AND NOT granted)",
            [String(tableOID)], types: [26]).string(0, 0) == "t"
    }
}
