import Logging
import PostgresClient

/// Lands batches in a local SQLite KB (`placement: local`), checkpoint and rows in one transaction.
/// One process runs a job id at a time, and one job writes a KB table at a time: both are held
/// with `flock` locks under `<state-dir>/locks/`, which the kernel releases if the process dies.
public final class LocalKBSink: BatchSink {
    let kb: LocalKB
    let spec: JobSpec
    private let jobID: String
    private let stateDir: String
    private let logger: Logger
    private let jobLock: FileLock
    private var tableLock: FileLock?
    private var record: LocalKB.JobRecord?
    private(set) var target: KBTarget?
    private var writer: KBBatchWriter?
    private var checkpointer: WALCheckpointer?
    /// `deletes` (LocalKBSink+Deletes): the rules applied to the target, and what they changed.
    var deletes: KBDeletes?
    var deletedRows: Int64 = 0

    public init(stateDir: String, spec: JobSpec, jobID: String, logger: Logger = Logger(label: "timbal.kb")) throws {
        guard !jobID.isEmpty else { throw KBError(field: "job_id", problem: "must not be empty") }
        self.stateDir = stateDir
        self.logger = logger
        let locks = try LocalKB.lockDirectory(stateDir: stateDir)
        switch try FileLock.acquire(path: "\(locks)/job-\(fnv1aHex(jobID)).lock", holder: "job=\(jobID)") {
        case .success(let lock): jobLock = lock
        case .failure(let held):
            throw KBError(field: "job_id", problem: "job \(jobID) is already running (\(held.line)); a job runs in one process at a time")
        }
        kb = try LocalKB(stateDir: stateDir, kbID: spec.kbID)
        self.spec = spec
        self.jobID = jobID
        record = try kb.jobRecord(jobID)
        if let record, record.state != "completed" {
            // The last run of this job did not finish cleanly: make sure the file is sound before writing on.
            if let damage = try kb.database.quickCheck() {
                throw KBError(field: "kb", problem: "\(kb.database.path) is damaged (\(damage)); move it aside and run the job again with mode replace, or restore it from a backup")
            }
        }
    }

    public func committedCheckpoint() throws -> Checkpoint? { record?.checkpoint }

    public var checkpointIsFromUnfinishedRun: Bool { record.map { $0.state != "completed" } ?? false }

    public var lastRunCompleted: Bool { record?.state == "completed" }

    public func open(plan: ExtractPlan) throws -> [String] {
        let locks = try LocalKB.lockDirectory(stateDir: stateDir)
        let name = "kb-\(spec.kbID)-\(fnv1aHex(spec.destTable)).lock"
        switch try FileLock.acquire(path: "\(locks)/\(name)", holder: "job=\(jobID) dest_table=\(spec.destTable)") {
        case .success(let lock): tableLock = lock
        case .failure(let held):
            throw KBError(field: "dest_table", problem: "\"\(spec.destTable)\" in KB \(spec.kbID) is being written by another job (\(held.line)); jobs writing one table run one at a time")
        }
        let target = try KBTarget.prepare(kb: kb.file, jobID: jobID, dest: spec.destTable, mode: spec.mode.rawValue,
                                          plan: plan.kbWritePlan)
        if !target.addedColumns.isEmpty {
            logger.notice("source gained columns; added to the KB table (NULL for earlier rows)", metadata: [
                "job.id": "\(jobID)", "dest.table": "\(target.table)", "columns": "\(target.addedColumns.joined(separator: ","))"])
        }
        self.target = target
        writer = try KBBatchWriter(kb: kb, target: target, plan: plan, jobID: jobID)
        checkpointer = try WALCheckpointer(path: kb.database.path, writer: kb.database)
        return target.mergeKey
    }

    public func land(_ batch: RowBatch, checkpoint: Checkpoint?) throws -> Int {
        // A batch before `open` is a bug in the caller: it fails this job with a message, not the daemon.
        guard let writer else { throw KBError(field: "kb", problem: "a batch came before the KB table was opened (a bug in the extract's order)") }
        guard writer.canStage, !batch.inKeyOrder else {
            let merged = try flush()
            return try merged + writer.land(batch, checkpoint: checkpoint)
        }
        if writer.stagedRows == 0 {
            stagedSince = monotonicSeconds()
            stagedBytes = 0
        }
        try writer.stage(batch)
        stagedCheckpoint = checkpoint
        stagedBatches += 1
        stagedBytes += batch.byteCount
        let period = flushes == 0 ? Self.firstFlushSeconds : Self.flushSeconds
        let due = stagedBytes >= Self.flushBytes || monotonicSeconds() - stagedSince >= period
        return due ? try flush() : 0
    }

    /// Rows in cursor order are staged and written in key order, in one transaction per flush.
    /// A flush writes each page it reaches once, however many of its rows changed, so fewer and
    /// larger flushes write fewer pages: the first comes a second after the run staged its first
    /// row (rows show up soon), later ones every five seconds or once this many bytes are staged
    /// (the stage's temporary file). The WAL stays bounded whatever a flush holds (`KBRowWriter`).
    static let firstFlushSeconds = 1.0
    static let flushSeconds = 5.0
    static let flushBytes = 64 << 20
    private var flushes = 0

    private var stagedSince = 0.0
    private var stagedBytes = 0
    private var stagedBatches = 0
    private var stagedCheckpoint: Checkpoint?

    public var hasStagedRows: Bool { (writer?.stagedRows ?? 0) > 0 }

    public func flush() throws -> Int {
        guard let writer, writer.stagedRows > 0 else { return 0 }
        let merged = try writer.flush(checkpoint: stagedCheckpoint, batches: stagedBatches)
        flushes += 1
        stagedBatches = 0
        stagedCheckpoint = nil
        return merged
    }

    /// SQLite's own limit on one value (SQLITE_MAX_LENGTH, 1e9 bytes by default).
    public var maxRowBytes: Int { 1_000_000_000 }

    public func close(state: ExtractResult.State) throws {
        defer { tableLock?.release() }
        _ = try flush()
        checkpointer?.stop(writer: kb.database)
        checkpointer = nil
        try target?.finish(kb: kb.file, jobID: jobID, state: state.rawValue)
    }

    public func totalRowsLanded() throws -> Int64 { try kb.jobRecord(jobID)?.rowsLanded ?? 0 }

}
