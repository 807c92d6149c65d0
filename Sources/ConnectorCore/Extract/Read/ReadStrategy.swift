import Logging
import PostgresClient

/// One way of reading a run's rows into the KB, chosen once before the first row
/// (`ExtractPlan.chooseRead`):
/// - `KeyOrderRead`: a whole-table read whose KB key is the source's key, with an index on it:
///   a first load by key after a cursor high-water mark, then a cursor catch-up from the mark.
/// - `CursorOrderRead`: everything else (incremental runs, `first_load: by_cursor`, keyless
///   tables, views), in cursor order: short segments where an index leads with the cursor, one
///   held segment per pass (the server sorts once) where none does.
protocol ReadStrategy {
    /// How this run reads, for the "extract started" line.
    var summary: String { get }
    /// Reads until the table is done or the run stops, landing through `landing`.
    func read(_ context: ReadContext, into landing: Landing, onProgress: (ExtractProgress) -> Void) throws -> ReadOutcome
}

/// What a read reports beyond what `Landing` counts.
struct ReadOutcome {
    /// Rows copied by a load by key (the rest of the run's rows came from its catch-up).
    var keyOrderRows: Int64 = 0
    /// Rows with a NULL cursor that an incremental run does not read.
    var nullCursorRowsSkipped: Int64 = 0
}

extension ExtractPlan {
    /// Chooses how this run reads (see `ReadStrategy`), and says in the log what a missing index
    /// costs the source.
    func chooseRead(runStart: RunStart, mergeKey: [String], settings: ConnectionSettings, link: SourceLink,
                    tableBlocks: Int64?, logger: Logger) throws -> ReadStrategy {
        let keyPlan = try KeyOrderLoad.applies(plan: self, resumeFrom: runStart.resumeFrom, incremental: runStart.incremental,
                                               mergeKey: mergeKey, byKey: settings.firstLoadByKey, link: link)
        let keyset = valueKeys.map(\.name)
        let indexing = try link.retrying("look for an index") { try KeysetIndexing.assess($0, table: table, keyset: keyset) }
        // With an index, reopening a segment is cheap (an index range scan), so segments stay
        // short: a snapshot held for long keeps VACUUM and HOT pruning from cleaning up after
        // busy writers. Without one, each segment sorts the rest of the table once, so there is
        // one held segment per pass. A view's cost is unknown (materializing it whole could be the
        // expensive part): plain segments of max_snapshot_s. A keyless snapshot is one held scan.
        let isView = table.relkind == "v"
        let segments: ReadPass.Segments
        if isKeylessSnapshot || (!indexing.reopensCheaply && !isView) {
            segments = .held
        } else {
            segments = .short(seconds: indexing.reopensCheaply ? min(settings.maxSnapshotSeconds, Extractor.indexedSegmentSeconds)
                                                                : settings.maxSnapshotSeconds)
        }
        if let keyPlan {
            return KeyOrderRead(plan: self, keyPlan: keyPlan, resumeFrom: runStart.resumeFrom, cursorIndexed: indexing != .none,
                                catchUp: segments, keySegmentSeconds: min(settings.maxSnapshotSeconds, Extractor.indexedSegmentSeconds))
        }
        if case .cursorWithHeavyTies(let rowsPerValue) = indexing, !isView {
            let index = "(" + keyset.map { SQLIdentifier.quote($0) }.joined(separator: ", ") + ")"
            logger.warning("the index on the cursor alone cannot page through its ties: the job reads in one held segment (the server sorts the rest of the table once); an index on \(index) would let it read in short segments", metadata: [
                "source.table": "\(table.qualifiedName)", "rows_per_value": "\(rowsPerValue.map(String.init) ?? "unknown (never analysed)")"])
        }
        if let cursor, !isView, indexing == .none {
            logger.warning("no index leads with the cursor column: the server sorts the table once and keeps the sorted rows (temporary disk of about the table's size) for the job to read", metadata: [
                "column": "\(cursor.name)", "table.blocks": "\(tableBlocks ?? -1)",
                "table.rows_estimate": "\(table.estimatedRows)"])
        }
        return CursorOrderRead(plan: self, segments: segments, runStart: runStart, mergeKey: mergeKey)
    }
}
