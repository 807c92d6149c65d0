import Logging
import PostgresClient

/// The extractor's two hooks for `deletes`: prepare the KB table before rows move, and run the
/// reconciliation after the read.
enum DeletePass {
    static func prepare(sink: BatchSink, choice: DeletesChoice, keys: ReconcileKeys, mergeKey: [String]) throws {
        guard let deleteSink = sink as? DeleteSink else {
            throw JobSpecError(field: "deletes", problem: "this destination cannot apply deletes; use \"keep\"")
        }
        // The KB table must be keyed on the very key the walk reads, or a range would not match.
        guard mergeKey == keys.names else {
            let have = mergeKey.isEmpty ? "no primary key or unique index" : "key (\(mergeKey.joined(separator: ", ")))"
            throw JobSpecError(field: "deletes", problem: "the KB table has \(have), not the source's key (\(keys.names.joined(separator: ", "))) that deletes match rows on; write into a new dest_table, or use \"keep\"")
        }
        try deleteSink.prepareDeletes(choice, keys: keys)
    }

    /// Walks the whole key range; returns the rows the sink removed or marked. Short segments
    /// when an index gives the key order, else one sorted pass kept by the server.
    static func run(spec: JobSpec, plan: ExtractPlan, keys: ReconcileKeys, link: SourceLink, sink: BatchSink,
                    maxSnapshotSeconds: Double, clock: MonotonicClock, stopFlag: StopFlag, logger: Logger) throws -> Int64? {
        guard let deleteSink = sink as? DeleteSink else { return nil }
        let indexing = try link.retrying("look for a key index") { try KeysetIndexing.assess($0, table: plan.table, keyset: keys.names) }
        let isView = plan.table.relkind == "v"
        let held = !isView && (keys.needsCollation || !indexing.reopensCheaply)
        let started = clock.now()
        let reconciler = DeleteReconciler(plan: plan, keys: keys, link: link, sink: deleteSink, pacing: spec.pacing, held: held,
                                          segmentSeconds: held ? maxSnapshotSeconds : min(maxSnapshotSeconds, Extractor.indexedSegmentSeconds),
                                          clock: clock, stopFlag: stopFlag)
        let outcome = try reconciler.run()
        logger.info(outcome.finished ? "deletes reconciled" : "deletes reconciliation stopped", metadata: [
            "deletes": "\(spec.deletes.rawValue)", "keys": "\(outcome.keys)", "rows.deleted": "\(deleteSink.rowsDeleted.map(String.init) ?? "counted by the plane")",
            "segments": "\(outcome.segments)", "held": "\(held)", "duration_s": "\(twoDecimals(clock.now() - started))"])
        return deleteSink.rowsDeleted
    }
}
