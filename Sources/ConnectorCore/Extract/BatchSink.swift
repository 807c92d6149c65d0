import PostgresClient

/// Where an extract lands its batches: a local SQLite KB, or the control plane's hosted KB.
/// The extractor calls it from one thread: `committedCheckpoint`, `open`, `land`..., `close`.
public protocol BatchSink: AnyObject {
    /// The checkpoint this job last committed here, to resume from (nil = start over).
    func committedCheckpoint() throws -> Checkpoint?
    /// Prepares the destination for the plan (creates tables, checks modes).
    func open(plan: ExtractPlan) throws
    /// Lands one batch together with the checkpoint it completes; may block for backpressure.
    func land(_ batch: PostgresResult, checkpoint: Checkpoint?) throws
    /// Ends the run: `completed` finishes the destination (e.g. the replace swap), `stopped` leaves it resumable.
    func close(state: ExtractResult.State) throws
    /// Rows landed by every run of this job.
    func totalRowsLanded() throws -> Int64
}
