import PostgresClient

/// Where an extract lands its batches: a local SQLite KB, or the control plane's hosted KB.
/// The extractor calls it from one thread: `committedCheckpoint`, `open`, `land`..., `close`.
public protocol BatchSink: AnyObject {
    /// The checkpoint this job last committed here, to resume from (nil = start over).
    func committedCheckpoint() throws -> Checkpoint?
    /// True when that checkpoint belongs to a run of this job that did not finish (continue it
    /// exactly); false when the run completed (a rerun is an incremental run, with lookback).
    var checkpointIsFromUnfinishedRun: Bool { get }
    /// True when the last run of this job here completed (a rerun of a `replace` or a snapshot
    /// then reads the table whole again).
    var lastRunCompleted: Bool { get }
    /// Prepares the destination for the plan (creates tables, checks modes); returns the key
    /// re-read rows merge on (empty: they are only inserted).
    func open(plan: ExtractPlan) throws -> [String]
    /// Lands one batch together with the checkpoint it completes; may block for backpressure. A
    /// sink may stage the batch and commit it later with a later checkpoint (`hasStagedRows`).
    /// Returns how many rows committed by this call replaced an earlier version of themselves.
    func land(_ batch: RowBatch, checkpoint: Checkpoint?) throws -> Int
    /// Whether landed batches wait, uncommitted, for `flush` (their checkpoint is not committed yet).
    var hasStagedRows: Bool { get }
    /// Commits the staged batches with the last one's checkpoint; returns the rows merged.
    func flush() throws -> Int
    /// The largest row (bytes of its cells) this destination can take; a larger one fails the job.
    var maxRowBytes: Int { get }
    /// Ends the run: `completed` finishes the destination (e.g. the replace swap), `stopped` leaves it resumable.
    func close(state: ExtractResult.State) throws
    /// Rows landed by every run of this job.
    func totalRowsLanded() throws -> Int64
}

extension BatchSink {
    /// A destination that keeps no record of finished runs (the hosted KB: each dispatch is a new job).
    public var lastRunCompleted: Bool { false }
    /// A sink that commits every batch as it lands stages nothing.
    public var hasStagedRows: Bool { false }
    public func flush() throws -> Int { 0 }
}
