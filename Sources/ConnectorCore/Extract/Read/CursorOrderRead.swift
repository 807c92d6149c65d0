import Logging
import PostgresClient

/// A read in cursor order, from where the run starts (`RunStart`): the beginning, the exact
/// position of an unfinished run, or an incremental run's checkpoint value (inclusive, reaching
/// back by `reread_from` and the lookback). One pass, in short segments or one held segment.
struct CursorOrderRead: ReadStrategy {
    let plan: ExtractPlan
    let segments: ReadPass.Segments
    let runStart: RunStart
    let mergeKey: [String]

    var summary: String { segments == .held ? "cursor order, one held segment" : "cursor order" }

    func read(_ context: ReadContext, into landing: Landing, onProgress: (ExtractProgress) -> Void) throws -> ReadOutcome {
        let (start, carriedRereadFrom) = try runStart.position(plan: plan, mergeKey: mergeKey, settings: context.settings,
                                                               link: context.link, logger: context.logger)
        var outcome = ReadOutcome()
        if start.pass == .values, start.after != nil, plan.cursorNullable, let cursor = plan.cursor {
            outcome.nullCursorRowsSkipped = try context.link.retrying("count NULL cursors") { try countNullCursorRows($0, cursor: cursor) }
            if outcome.nullCursorRowsSkipped > 0 {
                context.logger.warning("rows with a NULL cursor are not read by an incremental run", metadata: [
                    "rows": "\(outcome.nullCursorRowsSkipped)", "column": "\(cursor.name)"])
            }
        }
        guard !context.stopFlag.isRaised else { return outcome }
        try context.drain(ReadPass(plan: plan, start: start, segments: segments, rereadFrom: carriedRereadFrom),
                          into: landing, onProgress: onProgress)
        return outcome
    }

    private func countNullCursorRows(_ source: PostgresConnection, cursor: SourceColumn) throws -> Int64 {
        let sql = "SELECT count(*) FROM \(SQLIdentifier.quote(schema: plan.table.schema, table: plan.table.name)) WHERE \(SQLIdentifier.quote(cursor.name)) IS NULL"
        return Int64(try source.execute(sql).string(0, 0) ?? "0") ?? 0
    }
}
