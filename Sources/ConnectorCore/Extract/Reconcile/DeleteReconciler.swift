import Logging
import Metrics
import PostgresClient

/// The reconciliation's metrics (exported with the extract's).
enum DeleteMetrics {
    static let keys = Counter(label: "timbal_keys_reconciled_total")
}

/// The reconciliation pass that follows a run's read: reads only the key columns, in the KB's
/// order, in short keyset segments (one read-only REPEATABLE READ snapshot each, like the
/// extract's), and hands each fetched slice to the sink with the exact range it covers: from the
/// last key of the previous slice (exclusive) to its own last key (inclusive), or to the end of the
/// table once the segment's cursor runs dry. Within one slice, the source's keys are those of one
/// snapshot, so a KB key in the range that the slice lacks did not exist at the source then.
///
/// Memory: one slice of keys (`sliceKeys`) and the sink's chunk of KB keys.
final class DeleteReconciler {
    static let cursorName = "timbal_keys"
    static let sliceKeys = 10_000

    struct Outcome {
        var keys: Int64 = 0
        var segments = 0
        var finished = false
    }

    private let plan: ExtractPlan
    private let keys: ReconcileKeys
    private let link: SourceLink
    private let sink: DeleteSink
    private let held: Bool
    private let segmentSeconds: Double
    private let clock: MonotonicClock
    private let stopFlag: StopFlag
    private var pacer: Pacer
    /// The last key whose range the sink has applied (nil: none yet).
    private var after: KBKey?
    private var outcome = Outcome()

    /// `held`: one sorted pass kept by the server (no index gives the order), as the extract does.
    init(plan: ExtractPlan, keys: ReconcileKeys, link: SourceLink, sink: DeleteSink, pacing: Pacing, held: Bool,
         segmentSeconds: Double, clock: MonotonicClock, stopFlag: StopFlag) {
        self.plan = plan
        self.keys = keys
        self.link = link
        self.sink = sink
        self.held = held
        self.segmentSeconds = segmentSeconds
        self.clock = clock
        self.stopFlag = stopFlag
        pacer = Pacer(pacing: pacing)
    }

    /// Runs the pass until the end of the table or a stop; a transient failure retries the
    /// segment from the last applied range.
    func run() throws -> Outcome {
        while !outcome.finished && !stopFlag.isRaised {
            outcome.finished = try link.retrying("reconcile deletes") { try segment($0) }
        }
        return outcome
    }

    /// One segment; true when it reached the end of the table.
    private func segment(_ connection: PostgresConnection) throws -> Bool {
        let query = keys.query(table: plan.table, after: after)
        let started = clock.now()
        // Unpaced, the next slice is asked for before this one is walked, so the server reads
        // while the KB is walked (as the read's read-ahead does).
        let readAhead = pacer.maxRowsPerSec == 0 && pacer.batchDelay == 0
        let fetch = "FETCH FORWARD \(pacer.rowsPerQuery(batchRows: Self.sliceKeys)) FROM \(Self.cursorName)"
        var pending = false
        try connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        defer {
            // Collects a slice asked for ahead, ends the segment's transaction (or an aborted
            // one), then drops a held cursor's kept keys.
            if !connection.isBroken {
                if pending { _ = try? connection.receive(fetch) }
                _ = try? connection.execute("ROLLBACK")
                if held { _ = try? connection.execute("CLOSE \(Self.cursorName)") }
            }
        }
        // Locked before the snapshot is taken, as in a read segment: a snapshot older than a
        // TRUNCATE or a rewrite would see the new, empty table.
        if ["r", "p", "v"].contains(plan.table.relkind) {
            try connection.execute("LOCK TABLE \(SQLIdentifier.quote(schema: plan.table.schema, table: plan.table.name)) IN ACCESS SHARE MODE")
        }
        if held { try connection.execute("SET LOCAL cursor_tuple_fraction = 1") }
        try connection.query("DECLARE \(Self.cursorName) NO SCROLL CURSOR\(held ? " WITH HOLD" : "") FOR \(query.sql)",
                             query.parameters, types: query.types)
        _ = try SegmentCursor.verifyNotRewritten(connection, plan: plan)
        if held { try connection.execute("COMMIT") }
        outcome.segments += 1
        let asked = pacer.rowsPerQuery(batchRows: Self.sliceKeys)
        while true {
            let result: PostgresResult
            if pending {
                pending = false
                result = try connection.receive(fetch)
            } else {
                let wait = max(pacer.delayBeforeFetch(now: clock.now()), pacer.delayBeforeRows(asked, now: clock.now()))
                if wait > 0, stopFlag.wait(seconds: wait) { return false }
                result = try connection.execute(fetch)
            }
            pacer.didFetch(endedAt: clock.now())
            pacer.spend(result.rowCount, now: clock.now())
            var present: [KBKey] = []
            present.reserveCapacity(result.rowCount)
            for row in 0..<result.rowCount { present.append(try keys.key(result, row: row)) }
            // A short fetch: the cursor has no key after these in this snapshot, so the range runs
            // to the end; else it ends at the last key read, where the next slice begins.
            let exhausted = result.rowCount < asked
            let segmentOver = !held && clock.now() - started >= segmentSeconds
            if readAhead && !exhausted && !segmentOver && !stopFlag.isRaised {
                try connection.send(fetch)
                pending = true
            }
            try sink.applyDeletes(range: KBKeyRange(after: after, through: exhausted ? nil : present.last), present: present)
            outcome.keys += Int64(present.count)
            DeleteMetrics.keys.increment(by: present.count)
            if exhausted { return true }
            after = present.last
            if stopFlag.isRaised || segmentOver { return false }
        }
    }
}
