import Logging

/// One pass over the source, as `FetchPipeline` reads it: which keyset (the plan), from where,
/// in which kind of segments, and how its checkpoints are recorded. Read strategies
/// (`ReadStrategy`) are made of passes.
struct ReadPass {
    enum Segments: Equatable {
        /// Short snapshots, each ended after `seconds`, before a long pause, or when another session
        /// waits for a lock on the table: where an index gives the order, reopening one is cheap.
        case short(seconds: Double)
        /// One segment for the whole pass, sorted once and kept by the server (`WITH HOLD`), so no
        /// snapshot is held after it opens: where no index gives the order.
        case held
    }

    var plan: ExtractPlan
    var start: KeysetPosition
    var segments: Segments
    /// The oldest writer an interrupted run of this pass saw (carried into its checkpoints).
    var rereadFrom: String?
    /// Late commits are judged by this plan's cursor (a pass by key still records the writers
    /// its cursor catch-up must reach back to); nil: the pass's own plan.
    var writersPlan: ExtractPlan?
    /// The pass ends only when a segment opened after its last row finds no more (a load by key
    /// then copies rows inserted past its end while it ran, whatever their cursor value).
    var confirmsEnd = false
    /// Turns the position's checkpoint into the one recorded (a load by key records its own).
    var record: @Sendable (Checkpoint?) -> Checkpoint? = { $0 }
}

/// What every pass of one run shares: the job, its connection's settings, the source, the
/// destination's row limit, and the run's clock, stop flag and logger.
struct ReadContext {
    let spec: JobSpec
    let settings: ConnectionSettings
    let table: SourceTable
    let link: SourceLink
    /// A row larger than this fails the job (the destination cannot take it).
    let maxRowBytes: Int
    let retry: RetryPolicy
    let clock: MonotonicClock
    let stopFlag: StopFlag
    let logger: Logger

    /// Lands every batch of `pass` until it ends or the run stops; returns the finished pipeline
    /// (what it saw of writers, for a pass that follows).
    @discardableResult
    func drain(_ pass: ReadPass, into landing: Landing, onProgress: (ExtractProgress) -> Void) throws -> FetchPipeline {
        let pipeline = FetchPipeline(pass: pass, context: self)
        // A stop that came before the pipeline existed cancels its first query too.
        if stopFlag.isRaised { link.cancel() }
        try landing.drain(pipeline, onProgress: onProgress)
        return pipeline
    }
}
