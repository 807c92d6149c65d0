import PostgresClient

/// Where an incremental run starts: before the last checkpoint by the connection's lookback, and
/// no later than the checkpoint's `reread_from` (the oldest writer still open when the last run
/// read). Arithmetic runs in Postgres on the cursor's own type, so values stay exact.
enum IncrementalStart {
    /// The value to read strictly after, or nil when nothing reaches back before `checkpoint`.
    /// A `reread_from` bound is inclusive (a late row may carry exactly that instant), hence the
    /// one-unit step back.
    static func rewound(_ checkpoint: Checkpoint, plan: ExtractPlan, settings: ConnectionSettings,
                        on connection: PostgresConnection) throws -> String? {
        guard let cursor = plan.cursor, let value = checkpoint.value, !checkpoint.nullCursorPass else { return nil }
        let oid = cursor.typeOID
        let result: PostgresResult
        switch cursor.baseTypeName {
        case "timestamptz", "timestamp":
            guard settings.cursorLookbackSeconds > 0 || checkpoint.rereadFrom != nil else { return nil }
            result = try connection.query(
                """
                SELECT CASE WHEN b.bound < $1 THEN (b.bound - interval '1 microsecond')::text END
                FROM (SELECT LEAST($1 - make_interval(secs => $2), $3) AS bound) b
                """,
                [value, String(settings.cursorLookbackSeconds), checkpoint.rereadFrom], types: [oid, 701, oid])
        case "date":
            guard settings.cursorLookbackSeconds > 0 || checkpoint.rereadFrom != nil else { return nil }
            let days = (settings.cursorLookbackSeconds + 86_399) / 86_400
            result = try connection.query(
                "SELECT CASE WHEN b.bound < $1 THEN (b.bound - 1)::text END FROM (SELECT LEAST($1 - $2::int, $3) AS bound) b", [value, String(days), checkpoint.rereadFrom], types: [oid, 23, oid])
        case "int2", "int4", "int8", "numeric":
            guard settings.cursorLookbackValues > 0 else { return nil }
            result = try connection.query("SELECT ($1 - $2)::text", [value, String(settings.cursorLookbackValues)], types: [oid, oid])
        default:
            return nil
        }
        return result.string(0, 0)
    }
}
