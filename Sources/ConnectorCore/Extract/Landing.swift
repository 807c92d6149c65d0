import Logging

/// The writing side of a run: lands what each pass reads into the sink under the job's rate
/// cap, flushes rows the sink staged when the source goes quiet, and reports progress after each
/// batch with the committed checkpoint (a staged batch's checkpoint is not where a crash resumes).
final class Landing {
    private let sink: BatchSink
    private let clock: MonotonicClock
    private let stopFlag: StopFlag
    private let logger: Logger
    private var pacer: Pacer
    private let started: Double
    private let estimatedRows: Int64
    private let landedBefore: Int64

    /// Rows read and handed to the sink (committed or staged).
    private(set) var rows: Int64 = 0
    private(set) var nullRows: Int64 = 0
    private(set) var merged: Int64 = 0
    private(set) var batches = 0
    /// The last checkpoint the sink committed, and the rows this run had landed then.
    private(set) var checkpoint: Checkpoint?
    private var committedRows: Int64 = 0
    /// The last batch's checkpoint (committed once the sink has nothing staged).
    private var latest: Checkpoint?
    private(set) var retries = 0
    private(set) var segments = 0
    private(set) var hiddenWriters = 0
    private(set) var rewrites = 0

    /// With rows staged, a source quiet this long gets them committed rather than waiting.
    static let quietFlushSeconds = 0.5

    init(sink: BatchSink, pacing: Pacing, resumeFrom: Checkpoint?, estimatedRows: Int64, clock: MonotonicClock,
         stopFlag: StopFlag, logger: Logger) throws {
        self.sink = sink
        self.clock = clock
        self.stopFlag = stopFlag
        self.logger = logger
        pacer = Pacer(pacing: pacing)
        started = clock.now()
        self.estimatedRows = estimatedRows
        checkpoint = resumeFrom
        latest = resumeFrom
        // Rows earlier runs of this job landed (a resumed job's progress counts on from them).
        landedBefore = try sink.totalRowsLanded()
    }

    /// Lands every batch `pipeline` reads until it ends or the run is stopped; throws its failure.
    func drain(_ pipeline: FetchPipeline, onProgress: (ExtractProgress) -> Void) throws {
        pipeline.start()
        defer {
            retries += pipeline.retries
            segments += pipeline.segments
            hiddenWriters += pipeline.hiddenWriters
            rewrites += pipeline.rewrites
        }
        do {
            while true {
                if sink.hasStagedRows && !pipeline.waitForBatch(seconds: Self.quietFlushSeconds) {
                    try flush(onProgress: onProgress)
                    continue
                }
                guard let batch = pipeline.next(), !stopFlag.isRaised else { break }
                try land(batch, onProgress: onProgress)
            }
            pipeline.shutdown()
            if let failure = pipeline.failure, !(stopFlag.isRaised && failure.isCancellation) { throw failure.error }
        } catch {
            pipeline.shutdown()
            throw error
        }
    }

    private func land(_ batch: FetchedBatch, onProgress: (ExtractProgress) -> Void) throws {
        // The rate cap is judged on rows landed, so it gates landing (a bounded bucket).
        let wait = pacer.delayBeforeRows(batch.batch.rowCount, now: clock.now())
        if wait > 0 {
            // Staged rows are committed before a long wait, not held back by it.
            if wait > Self.quietFlushSeconds { try flush(onProgress: onProgress) }
            if stopFlag.wait(seconds: wait) { return }
        }
        let writeStarted = clock.now()
        // Spent as they are admitted, so the time they take to land earns tokens (spent
        // after landing, that time was lost to a full bucket: 6% of a 50,000 rows/s cap).
        pacer.spend(batch.batch.rowCount, now: writeStarted)
        let mergedNow = try sink.land(batch.batch, checkpoint: batch.checkpoint)
        ExtractMetrics.writeLatency.recordNanoseconds(Int64((clock.now() - writeStarted) * 1e9))
        ExtractMetrics.rows.increment(by: batch.batch.rowCount)
        ExtractMetrics.batches.increment()
        ExtractMetrics.lastBatch.record(unixSeconds())
        rows += Int64(batch.batch.rowCount)
        if batch.checkpoint?.nullCursorPass == true { nullRows += Int64(batch.batch.rowCount) }
        batches += 1
        latest = batch.checkpoint
        logger.debug("batch landed", metadata: ["batch.rows": "\(batch.batch.rowCount)", "batch.merged": "\(mergedNow)",
                                                "batch.staged": "\(sink.hasStagedRows)", "cursor": "\(latest?.summary ?? "")"])
        committed(merged: mergedNow, onProgress: onProgress)
    }

    /// Commits `checkpoint` with no rows (after everything staged): where the next run starts.
    func commit(_ checkpoint: Checkpoint, onProgress: (ExtractProgress) -> Void) throws {
        try flush(onProgress: onProgress)
        _ = try sink.land(RowBatch(parts: [], byteCount: 0, inKeyOrder: true), checkpoint: checkpoint)
        latest = checkpoint
        committed(merged: 0, onProgress: onProgress)
    }

    /// Commits what the sink staged (before the run ends, a pause, or a quiet source).
    func flush(onProgress: (ExtractProgress) -> Void = { _ in }) throws {
        guard sink.hasStagedRows else { return }
        committed(merged: try sink.flush(), onProgress: onProgress)
    }

    private func committed(merged mergedNow: Int, onProgress: (ExtractProgress) -> Void) {
        if mergedNow > 0 {
            ExtractMetrics.mergedRows.increment(by: mergedNow)
            merged += Int64(mergedNow)
        }
        if !sink.hasStagedRows {
            checkpoint = latest
            committedRows = rows
        }
        // After every batch (a stop asked for here takes effect at this batch), with what is committed.
        onProgress(ExtractProgress(rowsLanded: committedRows, rowsRead: rows, batches: batches, elapsedSeconds: clock.now() - started,
                                   checkpoint: checkpoint, estimatedRows: estimatedRows,
                                   totalRowsLanded: landedBefore + committedRows))
    }
}
