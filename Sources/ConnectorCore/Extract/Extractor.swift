import Logging
import PostgresClient
import SQLiteStore

/// Runs one extract job into a local KB: one thread fetches batch N+1 from Postgres while the
/// calling thread lands batch N in SQLite with its checkpoint. At most two batches are in memory.
public final class Extractor: @unchecked Sendable {
    public let spec: JobSpec
    public let jobID: String
    private let settings: ConnectionSettings
    private let stateDir: String
    private let logger: Logger
    private let clock: MonotonicClock
    private let retry: RetryPolicy
    private let stopFlag = StopFlag()
    private let linkLock = Condition()
    private var link: SourceLink?

    public init(spec: JobSpec, jobID: String, connection: ConnectionSettings, stateDir: String, logger: Logger,
                clock: MonotonicClock = SystemClock(), retry: RetryPolicy = RetryPolicy()) {
        self.spec = spec
        self.clock = clock
        self.retry = retry
        self.jobID = jobID
        self.settings = connection
        self.stateDir = stateDir
        var logger = logger
        logger[metadataKey: "job.id"] = "\(jobID)"
        self.logger = logger
    }

    /// Asks the run to stop: the batch being landed completes with its checkpoint, the query
    /// in flight is cancelled. Safe from any thread.
    public func stop() {
        stopFlag.raise()
        linkLock.withLock { link }?.cancel()
    }

    /// Runs the job to completion (or until stopped). Blocks: call it off the cooperative pool.
    public func run(onProgress: (ExtractProgress) -> Void = { _ in }) throws -> ExtractResult {
        let started = clock.now()
        guard spec.placement == .local else {
            throw JobSpecError(field: "placement", problem: "\"hosted\" needs the connector daemon; this run writes local KBs only")
        }
        let settings = self.settings, jobID = self.jobID, pacing = spec.pacing
        let sourceLink = try SourceLink(open: { try SourceSession.open(settings, jobID: jobID, pacing: pacing) })
        let source = sourceLink.connection
        if spec.pacing.readUncommitted {
            logger.debug("pacing.read_uncommitted has no effect on Postgres: readers never block writers under MVCC")
        }
        let table = try SourceCatalog.describe(schema: spec.source.schema, table: spec.source.table, on: source)
        let plan = try ExtractPlan.make(spec: spec, table: table)
        if let cursor = spec.cursor { try plan.validate(cursor, field: "cursor") }

        let kb = try LocalKB(stateDir: stateDir, kbID: spec.kbID)
        let record = try kb.jobRecord(jobID)
        let resumeFrom: Checkpoint?
        if let explicit = spec.cursor {
            resumeFrom = explicit
        } else if let stored = record?.checkpoint {
            try plan.validate(stored, field: "checkpoint")
            resumeFrom = stored
        } else {
            resumeFrom = nil
        }
        let target = try kb.database.transaction { () throws -> KBTarget in
            let target = try KBTarget.prepare(kb: kb, spec: spec, plan: plan, jobID: jobID, record: record)
            try registerRun(kb: kb, target: target, fresh: record == nil)
            return target
        }
        let start = resumeFrom.map { KeysetPosition.resuming($0, plan: plan) } ?? .start(for: plan)
        var skippedNulls: Int64 = 0
        if start.pass == .values, start.after != nil, plan.cursorNullable, let cursor = plan.cursor {
            skippedNulls = try countNullCursorRows(source, plan: plan, cursor: cursor)
            if skippedNulls > 0 {
                logger.warning("rows with a NULL cursor are not read by an incremental run", metadata: [
                    "rows": "\(skippedNulls)", "column": "\(cursor.name)"])
            }
        }
        logger.info("extract started", metadata: [
            "source.table": "\(table.qualifiedName)", "kb.id": "\(spec.kbID)", "dest.table": "\(spec.destTable)",
            "mode": "\(spec.mode.rawValue)", "batch.rows": "\(spec.batchRows)",
            "resume": "\(resumeFrom?.summary ?? "none")"])

        let writer = try KBBatchWriter(kb: kb, table: target.table, plan: plan, mode: spec.mode,
                                       keyColumns: spec.keyColumns, jobID: jobID)
        let pipeline = FetchPipeline(plan: plan, link: sourceLink, start: start, batchRows: spec.batchRows,
                                     pacing: spec.pacing, retry: retry, clock: clock, stopFlag: stopFlag, logger: logger)
        linkLock.withLock { link = sourceLink }
        defer { linkLock.withLock { link = nil } }
        if stopFlag.isRaised { sourceLink.cancel() }

        var rows: Int64 = 0, nullRows: Int64 = 0, batches = 0
        var checkpoint = resumeFrom
        pipeline.start()
        do {
            while let batch = pipeline.next() {
                if stopFlag.isRaised { break }
                try writer.land(batch.result, checkpoint: batch.checkpoint)
                rows += Int64(batch.result.rowCount)
                if batch.checkpoint?.nullCursorPass == true { nullRows += Int64(batch.result.rowCount) }
                batches += 1
                checkpoint = batch.checkpoint
                logger.debug("batch landed", metadata: ["batch.rows": "\(batch.result.rowCount)", "cursor": "\(checkpoint?.summary ?? "")"])
                onProgress(ExtractProgress(rowsLanded: rows, batches: batches, elapsedSeconds: clock.now() - started,
                                           checkpoint: checkpoint, estimatedRows: table.estimatedRows))
            }
            pipeline.shutdown()
            if let failure = pipeline.failure, !(stopFlag.isRaised && failure.isCancellation) { throw failure.error }
        } catch {
            pipeline.shutdown()
            throw error
        }

        let state: ExtractResult.State = stopFlag.isRaised ? .stopped : .completed
        try kb.database.transaction {
            if state == .completed { try target.finish(kb: kb, plan: plan) }
            try markFinished(kb: kb, state: state, table: state == .completed ? (target.swapInto ?? target.table) : target.table)
        }
        let total = try kb.jobRecord(jobID)?.rowsLanded ?? rows
        return ExtractResult(
            state: state, jobID: jobID, destTable: spec.destTable, rowsLanded: rows, totalRowsLanded: total,
            batches: batches, nullCursorRows: nullRows, nullCursorRowsSkipped: skippedNulls, resumedFrom: resumeFrom,
            checkpoint: checkpoint, retries: pipeline.retries, durationSeconds: clock.now() - started)
    }

    private func registerRun(kb: LocalKB, target: KBTarget, fresh: Bool) throws {
        let now = utcTimestamp()
        if fresh {
            let insert = try kb.database.prepare(
                """
                INSERT INTO _timbal_jobs (job_id, dest_table, target_table, mode, state, started_at, updated_at)
                VALUES (?, ?, ?, ?, 'running', ?, ?)
                """)
            for (index, value) in [jobID, spec.destTable, target.table, spec.mode.rawValue, now, now].enumerated() {
                try insert.bind(.text(value), at: index + 1)
            }
            try insert.run()
        } else {
            let update = try kb.database.prepare(
                "UPDATE _timbal_jobs SET state = 'running', target_table = ?, updated_at = ?, finished_at = NULL WHERE job_id = ?")
            try update.bind(.text(target.table), at: 1)
            try update.bind(.text(now), at: 2)
            try update.bind(.text(jobID), at: 3)
            try update.run()
        }
    }

    private func markFinished(kb: LocalKB, state: ExtractResult.State, table: String) throws {
        let update = try kb.database.prepare(
            "UPDATE _timbal_jobs SET state = ?, target_table = ?, updated_at = ?, finished_at = ? WHERE job_id = ?")
        let now = utcTimestamp()
        for (index, value) in [state.rawValue, table, now, now, jobID].enumerated() {
            try update.bind(.text(value), at: index + 1)
        }
        try update.run()
    }

    private func countNullCursorRows(_ source: PostgresConnection, plan: ExtractPlan, cursor: SourceColumn) throws -> Int64 {
        let sql = "SELECT count(*) FROM \(SQLIdentifier.quote(schema: plan.table.schema, table: plan.table.name)) WHERE \(SQLIdentifier.quote(cursor.name)) IS NULL"
        return Int64(try source.execute(sql).string(0, 0) ?? "0") ?? 0
    }
}
