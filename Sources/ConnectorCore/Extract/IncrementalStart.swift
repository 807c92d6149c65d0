import PostgresClient

/// Where an incremental run starts: at the last checkpoint's cursor value itself (inclusive, so
/// rows committed later with that same value are read and merged by key), reaching back by the
/// connection's lookback and to the checkpoint's `reread_from` (the start of the oldest
/// transaction still open when the last run read). Arithmetic runs in Postgres on the cursor's
/// own type, so values stay exact.
enum IncrementalStart {
    /// The cursor value to read from, inclusive: the checkpoint's own value, or an earlier one.
    static func from(_ checkpoint: Checkpoint, plan: ExtractPlan, settings: ConnectionSettings,
                     on connection: PostgresConnection) throws -> String? {
        guard let cursor = plan.cursor, let value = checkpoint.value, !checkpoint.nullCursorPass else { return nil }
        let oid = cursor.typeOID
        let result: PostgresResult
        switch cursor.baseTypeName {
        case "timestamptz", "timestamp":
            guard settings.cursorLookbackSeconds > 0 || checkpoint.rereadFrom != nil else { return value }
            result = try connection.query(
                "SELECT LEAST($1, $1 - make_interval(secs => $2), $3)::text",
                [value, String(settings.cursorLookbackSeconds), checkpoint.rereadFrom], types: [oid, 701, oid])
        case "date":
            guard settings.cursorLookbackSeconds > 0 || checkpoint.rereadFrom != nil else { return value }
            let days = (settings.cursorLookbackSeconds + 86_399) / 86_400
            result = try connection.query(
                "SELECT LEAST($1, $1 - $2::int, $3)::text", [value, String(days), checkpoint.rereadFrom], types: [oid, 23, oid])
        case "int2", "int4", "int8", "numeric":
            guard settings.cursorLookbackValues > 0 else { return value }
            result = try connection.query("SELECT LEAST($1, $1 - $2)::text", [value, String(settings.cursorLookbackValues)], types: [oid, oid])
        default:
            return value
        }
        return result.string(0, 0) ?? value
    }
}
