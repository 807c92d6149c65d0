import Logging
import PostgresClient

/// Runs one extract job: one thread fetches batch N+1 from Postgres while the calling thread lands
/// batch N in the sink with its checkpoint. At most three batches are in memory.
public final class Extractor: @unchecked Sendable {
    public let spec: JobSpec
    public let jobID: String
    private let settings: ConnectionSettings
    private let makeSink: () throws -> BatchSink
    private let logger: Logger
    private let clock: MonotonicClock
    private let retry: RetryPolicy
    private let stopFlag = StopFlag()
    private let linkLock = Lock()
    private var link: SourceLink?
    private var stopHooks: [@Sendable () -> Void] = []

    /// An extractor that lands batches in `sink` (built on the run's thread).
    public init(spec: JobSpec, jobID: String, connection: ConnectionSettings, logger: Logger,
                clock: MonotonicClock = SystemClock(), retry: RetryPolicy = RetryPolicy(),
                sink makeSink: @escaping () throws -> BatchSink) {
        self.spec = spec
        self.jobID = jobID
        self.settings = connection
        self.makeSink = makeSink
        self.clock = clock
        self.retry = retry
        var logger = logger
        logger[metadataKey: "job.id"] = "\(jobID)"
        self.logger = logger
    }

    /// An extractor for a local job: batches land in `<state-dir>/kb/<kb_id>.sqlite`.
    public convenience init(spec: JobSpec, jobID: String, connection: ConnectionSettings, stateDir: String, logger: Logger,
                            clock: MonotonicClock = SystemClock(), retry: RetryPolicy = RetryPolicy()) {
        self.init(spec: spec, jobID: jobID, connection: connection, logger: logger, clock: clock, retry: retry) {
            guard spec.placement == .local else {
                throw JobSpecError(field: "placement", problem: "\"hosted\" sends rows to the control plane, which needs the connector daemon; this run writes local KBs only")
            }
            return try LocalKBSink(stateDir: stateDir, spec: spec, jobID: jobID, logger: logger)
        }
    }

    /// How long a segment holds its snapshot when an index leads with the cursor.
    public static let indexedSegmentSeconds = 1.0

    /// Asks the run to stop: the batch being landed completes with its checkpoint, the query
    /// in flight is cancelled. Safe from any thread.
    public func stop() {
        stopFlag.raise()
        let (current, hooks) = linkLock.withLock { (link, stopHooks) }
        current?.cancel()
        hooks.forEach { $0() }
    }

    /// Runs `hook` when a stop is requested (e.g. to wake a sink waiting for acknowledgements).
    public func onStop(_ hook: @escaping @Sendable () -> Void) {
        linkLock.withLock { stopHooks.append(hook) }
    }

    public var isStopRequested: Bool { stopFlag.isRaised }

    /// Runs the job to completion (or until stopped). Blocks: call it off the cooperative pool.
    public func run(onProgress: (ExtractProgress) -> Void = { _ in }) throws -> ExtractResult {
        let started = clock.now()
        let sink = try makeSink()
        let settings = self.settings, jobID = self.jobID, pacing = spec.pacing, stopFlag = self.stopFlag
        let sourceLink = try SourceLink(open: { try SourceSession.open(settings, jobID: jobID, pacing: pacing, interrupted: { stopFlag.isRaised }) },
                                        retry: retry, stopFlag: stopFlag, logger: logger)
        linkLock.withLock { link = sourceLink }
        defer { linkLock.withLock { link = nil } }
        if spec.pacing.readUncommitted {
            logger.debug("pacing.read_uncommitted has no effect on Postgres: readers never block writers under MVCC")
        }
        let table = try sourceLink.retrying("describe the table") {
            try SourceCatalog.describe(schema: spec.source.schema, table: spec.source.table, on: $0)
        }
        var plan = try ExtractPlan.make(spec: spec, table: table)
        // deletes: refused by name before any row moves (keyless, a key type, a soft clash).
        let reconcileKeys = spec.deletes == .keep ? nil : try ReconcileKeys.resolve(spec: spec, plan: plan)
        let runStart = try RunStart.decide(spec: spec, plan: plan, sink: sink)
        plan.refreshesCompletedRun = runStart.refresh
        try runStart.checkValues(plan: plan, link: sourceLink)
        let resumeFrom = runStart.resumeFrom
        if runStart.refresh {
            logger.notice("the last run of this job completed; a rerun of a replace or a snapshot reads the whole table again", metadata: [
                "mode": "\(spec.mode.rawValue)", "dest.table": "\(spec.destTable)"])
        }
        let mergeKey = try sink.open(plan: plan)
        if let reconcileKeys { try DeletePass.prepare(sink: sink, choice: spec.deletes, keys: reconcileKeys, mergeKey: mergeKey) }
        if plan.isKeylessSnapshot {
            logger.notice("snapshot of a table with no key: one unordered scan into a staging table, put in place when it completes; if interrupted it starts over", metadata: [
                "source.table": "\(table.qualifiedName)", "dest.table": "\(spec.destTable)"])
        } else if mergeKey.isEmpty {
            logger.warning("the KB table has no key: a row read twice (it moved ahead of the cursor while the job ran) lands twice", metadata: [
                "source.table": "\(table.qualifiedName)", "dest.table": "\(spec.destTable)"])
        }
        var warnings: [String] = []
        if let before = resumeFrom?.sourceFilenode, let now = table.filenode, before != now {
            warnings.append(Self.rewrittenWarning)
            logger.warning("\(Self.rewrittenWarning)", metadata: ["source.table": "\(table.qualifiedName)"])
        }
        let cost = SourceCost.start(sourceLink.connection, tableOID: table.oid)
        // Chosen once: a whole-table read by key then a cursor catch-up, or a read in cursor order.
        let read = try plan.chooseRead(runStart: runStart, mergeKey: mergeKey, settings: settings, link: sourceLink,
                                       tableBlocks: cost?.tableBlocks, logger: logger)
        logger.info("extract started", metadata: [
            "source.table": "\(table.qualifiedName)", "kb.id": "\(spec.kbID)", "dest.table": "\(spec.destTable)",
            "mode": "\(spec.mode.rawValue)", "placement": "\(spec.placement.rawValue)",
            "batch.rows": "\(spec.batchRows)", "resume": "\(resumeFrom?.summary ?? "none")", "read": "\(read.summary)"])

        let landing = try Landing(sink: sink, pacing: spec.pacing, resumeFrom: resumeFrom, estimatedRows: table.estimatedRows,
                                  clock: clock, stopFlag: stopFlag, logger: logger)
        let context = ReadContext(spec: spec, settings: settings, table: table, link: sourceLink, maxRowBytes: sink.maxRowBytes,
                                  retry: retry, clock: clock, stopFlag: stopFlag, logger: logger)
        let outcome = try read.read(context, into: landing, onProgress: onProgress)
        try landing.flush(onProgress: onProgress)
        if landing.hiddenWriters > 0 {
            logger.warning("writing transactions were open while this job read, and this role cannot see when they began; rows they commit later below the checkpoint are re-read only within cursor_lookback_s (grant pg_read_all_stats to the role to make this exact)", metadata: [
                "transactions": "\(landing.hiddenWriters)"])
        }
        if landing.rewrites > 0, warnings.isEmpty { warnings.append(Self.rewrittenWarning) }
        if landing.merged > 0 {
            logger.info("rows read again replaced their earlier version by key", metadata: ["rows.merged": "\(landing.merged)"])
        }

        // deletes: after every row of the read has landed, before the run ends.
        let deleted = try reconcileKeys.flatMap { keys -> Int64? in
            guard !stopFlag.isRaised else { return nil }
            return try DeletePass.run(spec: spec, plan: plan, keys: keys, link: sourceLink, sink: sink,
                                      maxSnapshotSeconds: settings.maxSnapshotSeconds, clock: clock, stopFlag: stopFlag, logger: logger)
        }
        let state: ExtractResult.State = stopFlag.isRaised ? .stopped : .completed
        try sink.close(state: state)
        let heapBlocks = state == .completed && !sourceLink.connection.isBroken ? cost?.blocksSinceStart(sourceLink.connection) : nil
        var result = ExtractResult(
            state: state, jobID: jobID, destTable: spec.destTable, rowsLanded: landing.rows, totalRowsLanded: try sink.totalRowsLanded(),
            batches: landing.batches, nullCursorRows: landing.nullRows, nullCursorRowsSkipped: outcome.nullCursorRowsSkipped, resumedFrom: resumeFrom,
            checkpoint: landing.checkpoint, retries: landing.retries, durationSeconds: clock.now() - started,
            rowsMerged: landing.merged, segments: landing.segments, heapBlocks: heapBlocks, tableBlocks: cost?.tableBlocks,
            refreshed: runStart.refresh, warnings: warnings, rowsDeleted: deleted)
        result.keyOrderRows = outcome.keyOrderRows
        return result
    }

    static let rewrittenWarning = "the source table was rewritten since the last checkpoint (TRUNCATE, VACUUM FULL, CLUSTER or a rewriting ALTER TABLE): if its keys were reused (TRUNCATE ... RESTART IDENTITY), new rows overwrote KB rows with the same key; a run with mode replace rebuilds the KB table"
}
