import PostgresClient

/// Samples, before each segment's snapshot, when the oldest transaction still open in this
/// database began. A row that such a transaction commits later is invisible to the segment, yet
/// may carry a cursor value the segment reads past: `now()`, `current_timestamp` and
/// `transaction_timestamp()` are the transaction's start, fixed at BEGIN even if it writes much
/// later (and `statement_timestamp()`, `clock_timestamp()` are later still). Every open transaction
/// counts, not only those that already hold an xid: one that has read but not yet written can
/// still write a value stamped with its start. The earliest sample is where the next incremental
/// run must reach back to (`reread_from`), so late commits are re-read, not lost. Applies to time
/// cursors (timestamptz, timestamp, date); only this database's sessions can write the table.
struct InFlightWriters {
    private let cursorTypeOID: UInt32
    private let expression: String
    /// The earliest bound seen by this run (and the runs it resumes), in the cursor's text form.
    private(set) var rereadFrom: String?
    /// Open transactions whose start this role may not see (it lacks `pg_read_all_stats`); only
    /// those that hold an xid or a snapshot show at all.
    private(set) var hiddenWriters = 0

    init?(plan: ExtractPlan, carried: String?) {
        guard let cursor = plan.cursor else { return nil }
        switch cursor.baseTypeName {
        case "timestamptz": expression = "s.oldest"
        case "timestamp": expression = "(s.oldest AT TIME ZONE 'UTC')"
        case "date": expression = "(s.oldest AT TIME ZONE 'UTC')::date"
        default: return nil
        }
        cursorTypeOID = cursor.typeOID
        rereadFrom = carried
    }

    mutating func sample(_ connection: PostgresConnection) throws {
        let result = try connection.query(
            """
            SELECT LEAST($1, \(expression))::text, s.hidden
            FROM (SELECT LEAST(min(a.xact_start), pg_catalog.now()) AS oldest,
                         count(*) FILTER (WHERE a.xact_start IS NULL
                                            AND (a.backend_xid IS NOT NULL OR a.backend_xmin IS NOT NULL)) AS hidden
                  FROM pg_catalog.pg_stat_activity a
                  WHERE a.datname = pg_catalog.current_database() AND a.pid <> pg_catalog.pg_backend_pid()
                    AND a.backend_type <> 'autovacuum worker') s
            """, [rereadFrom], types: [cursorTypeOID])
        rereadFrom = result.string(0, 0) ?? rereadFrom
        hiddenWriters = max(hiddenWriters, Int(result.string(0, 1) ?? "0") ?? 0)
    }
}
