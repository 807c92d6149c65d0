/// How a run of an extract job ended.
public struct ExtractResult: Sendable {
    public enum State: String, Sendable {
        case completed, stopped
    }

    public var state: State
    public var jobID: String
    public var destTable: String
    /// Rows landed by this run.
    public var rowsLanded: Int64
    /// Rows landed by every run of this job id.
    public var totalRowsLanded: Int64
    public var batches: Int
    /// Rows whose cursor is NULL, landed by this run's first pass.
    public var nullCursorRows: Int64
    /// Rows whose cursor is NULL that this incremental run did not read (they only come with a full extract).
    public var nullCursorRowsSkipped: Int64
    /// Where this run started from (nil = the beginning).
    public var resumedFrom: Checkpoint?
    /// The last committed checkpoint.
    public var checkpoint: Checkpoint?
    /// Transient source failures retried by this run.
    public var retries: Int
    public var durationSeconds: Double
    /// Rows read again in this run that replaced their earlier version by key.
    public var rowsMerged: Int64 = 0
    /// Segments (one snapshot and one scan each) this run read.
    public var segments: Int = 0
    /// Heap blocks of the table read or hit while the job ran (server counters; nil when unknown).
    public var heapBlocks: Int64? = nil
    /// The table's size in heap blocks, to compare with `heapBlocks`.
    public var tableBlocks: Int64? = nil
    /// The run read the whole table again after a completed run of the job (a rerun of a
    /// `replace` or of a snapshot), instead of going on from its checkpoint.
    public var refreshed = false
    /// Rows of this run's first load in key order (0 when it read in cursor order only).
    public var keyOrderRows: Int64 = 0
    /// What an operator should know of this run, one sentence each (also in the job's report).
    public var warnings: [String] = []
    /// Rows this run's delete reconciliation removed or marked (nil: no reconciliation ran).
    public var rowsDeleted: Int64? = nil

    public var rowsPerSecond: Double { durationSeconds > 0 ? Double(rowsLanded) / durationSeconds : 0 }
}

/// A progress report, sent after every landed batch.
public struct ExtractProgress: Sendable {
    /// Rows committed with a checkpoint by this run (rows staged for a later flush are not).
    public var rowsLanded: Int64
    /// Rows this run read and handed to the KB, committed or staged: what the rate cap admits.
    public var rowsRead: Int64 = 0
    public var batches: Int
    public var elapsedSeconds: Double
    public var checkpoint: Checkpoint?
    /// The planner's estimate of the table's rows (-1 when unknown), for an ETA.
    public var estimatedRows: Int64
    /// Rows landed by every run of the job so far (this one included): never goes backwards.
    public var totalRowsLanded: Int64

    public var rowsPerSecond: Double { elapsedSeconds > 0 ? Double(rowsLanded) / elapsedSeconds : 0 }

    /// Seconds left at this run's rate, from the planner's estimate; nil when either is unknown.
    public var etaSeconds: Double? {
        guard estimatedRows > 0, rowsPerSecond > 0 else { return nil }
        return Double(max(0, estimatedRows - totalRowsLanded)) / rowsPerSecond
    }
}
