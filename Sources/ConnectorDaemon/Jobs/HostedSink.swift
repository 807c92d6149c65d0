import ChannelProtocol
import ConnectorCore
import Logging
import PostgresClient

/// Lands a hosted job's batches on the control plane: each batch goes over the channel with a
/// sequence number and the checkpoint it completes; the checkpoint counts as committed only once
/// the plane acknowledges the batch. At most `window` batches are unacknowledged, so a slow plane
/// slows the extract instead of filling memory. Unacknowledged batches are resent after a reconnect.
///
/// Threads: the job thread calls `open`, `land` and `close`; the channel's control thread calls
/// `acknowledge` and `resendUnacknowledged`. Every mutable field is read and written under `lock`.
public final class HostedSink: BatchSink, @unchecked Sendable {
    private let spec: JobSpec
    private let jobID: String
    private let outbox: Outbox
    private let window: Int
    private let stopFlag: StopFlag
    let lock = Condition()
    private var unacked: [(seq: Int64, frame: [UInt8], checkpoint: Checkpoint?, rows: Int64)] = []
    private var nextSeq: Int64
    private var landedRows: Int64
    private var committed: Checkpoint?
    private var columns: [HostedBatch.Column] = []
    private var mergeKey: [String] = []
    private var sourceColumns: [HostedBatch.Column] = []
    private var startsOver = false
    /// The first batch of a run tells the plane to check the KB table against the source again.
    private var runStarted = false
    private var encoder: JSONRowEncoder?
    /// Since when the oldest unacknowledged batch has waited without any acknowledgement
    /// (monotonic seconds; nil with none outstanding): a plane that takes batches and never
    /// answers is noticed by the channel (`ackOverdue`).
    private var waitingSince: Double?
    private let onCommit: @Sendable (Checkpoint?, Int64) -> Void
    /// `deletes` (HostedSink+Deletes): the job's choice and how its key columns are stored; read
    /// and written under `lock`.
    var deletes: DeletesChoice = .keep
    var deleteKeyKinds: [KBKeyKind] = []

    /// `resume` is where the plane says this job stands (its last landed batch).
    public init(spec: JobSpec, jobID: String, resume: HostedResume?, outbox: Outbox, window: Int, stopFlag: StopFlag,
                onCommit: @escaping @Sendable (Checkpoint?, Int64) -> Void) throws {
        self.spec = spec
        self.jobID = jobID
        self.outbox = outbox
        self.window = max(1, window)
        self.stopFlag = stopFlag
        self.onCommit = onCommit
        // Values from the wire: checked, so a bad one fails this job with a message, never the daemon.
        let start = try Self.checkedResume(resume)
        nextSeq = start.nextSeq
        landedRows = start.landedRows
        committed = try resume?.checkpoint.map { try Checkpoint.decode($0, field: "resume.checkpoint") }
    }

    /// The largest `seq` and `rows_landed` a plane's `resume` may carry: far above any real job,
    /// and far enough below Int64.max that counting on from them cannot overflow.
    static let maxResumeValue: Int64 = 1 << 53

    static func checkedResume(_ resume: HostedResume?) throws -> (nextSeq: Int64, landedRows: Int64) {
        guard let resume else { return (1, 0) }
        guard (0...maxResumeValue).contains(resume.seq) else {
            throw HostedSinkError.badResume(field: "resume.seq", value: resume.seq)
        }
        guard (0...maxResumeValue).contains(resume.rowsLanded) else {
            throw HostedSinkError.badResume(field: "resume.rows_landed", value: resume.rowsLanded)
        }
        return (resume.seq + 1, resume.rowsLanded)
    }

    public func committedCheckpoint() throws -> Checkpoint? { lock.withLock { committed } }

    /// The plane keeps a hosted job's position only while the job has not ended.
    public var checkpointIsFromUnfinishedRun: Bool { lock.withLock { committed != nil } }

    public func open(plan: ExtractPlan) throws -> [String] {
        let columns = plan.projection.map { HostedBatch.Column(name: $0.name, dataType: $0.declaredType, kbType: $0.kind.sqliteType) }
        let sourceColumns = plan.table.columns.map { HostedBatch.Column(name: $0.name, dataType: $0.declaredType, kbType: $0.kind.sqliteType) }
        let encoder = JSONRowEncoder(kinds: plan.projection.map(\.kind))
        lock.withLock {
            self.columns = columns
            self.encoder = encoder
            mergeKey = plan.mergeKey
            startsOver = plan.isKeylessSnapshot
            // A keyless snapshot's earlier rows sat in the staging table its first batch rebuilds.
            if startsOver { landedRows = 0 }
            self.sourceColumns = sourceColumns
        }
        return plan.mergeKey
    }

    /// JSON may take up to twice a row's text (escapes), and a frame must stay under the
    /// channel's message limit.
    public var maxRowBytes: Int { ChannelClient.maxMessageBytes / 2 - 4096 }

    public func land(_ batch: RowBatch, checkpoint: Checkpoint?) throws -> Int {
        // Only the job thread uses the encoder; it is read under the lock that `open` set it under.
        guard let encoder = lock.withLock({ self.encoder }) else { throw HostedSinkError.notOpen }
        return try encoder.withRows(batch) { rows in
            if rows.count > ChannelClient.maxMessageBytes - 65_536 {
                throw HostedSinkError.frameTooLarge(rows: batch.rowCount, bytes: rows.count)
            }
            try send(rowsJSON: rows, rowCount: batch.rowCount, checkpoint: checkpoint, final: false, inKeyOrder: batch.inKeyOrder)
            return 0
        }
    }

    func send(rowsJSON: UnsafeBufferPointer<UInt8>, rowCount: Int, checkpoint: Checkpoint?, final: Bool,
              reconcile: HostedReconcile? = nil, inKeyOrder: Bool = false) throws {
        let frame: [UInt8] = lock.withLock {
            var header = HostedBatch(
                jobID: jobID, seq: nextSeq, kbID: spec.kbID, destTable: spec.destTable, mode: spec.mode.rawValue,
                keyColumns: mergeKey, columns: columns, rows: [], checkpoint: checkpoint?.json, final: final)
            header.startsOver = startsOver
            header.inKeyOrder = inKeyOrder
            header.deletes = deletes == .keep ? nil : deletes.rawValue
            header.reconcile = reconcile
            if !runStarted {
                runStarted = true
                header.runStart = true
                header.sourceColumns = sourceColumns
            }
            let text = ChannelMessage.encodedBatch(header, rowsJSON: rowsJSON)
            if unacked.isEmpty { waitingSince = monotonicSeconds() }
            unacked.append((nextSeq, text, checkpoint, Int64(rowCount)))
            nextSeq += 1
            return text
        }
        outbox.send(bytes: frame)
        // Backpressure: wait while the window is full.
        try lock.withLock {
            while unacked.count >= window {
                if stopFlag.isRaised { throw HostedSinkError.stopped }
                lock.wait()
            }
        }
    }

    /// Whether batches have waited `seconds` without any acknowledgement.
    public func ackOverdue(after seconds: Double) -> Bool {
        lock.withLock { waitingSince.map { monotonicSeconds() - $0 > seconds } ?? false }
    }

    /// The job is stopping: wakes a writer waiting for acknowledgements (call after raising the stop flag).
    public func wake() {
        lock.withLock { lock.broadcast() }
    }

    /// The plane landed batch `seq` (and every one before it).
    public func acknowledge(seq: Int64) {
        let commit: (Checkpoint?, Int64)? = lock.withLock {
            var last: (Checkpoint?, Int64)?
            while let first = unacked.first, first.seq <= seq {
                unacked.removeFirst()
                landedRows += first.rows
                committed = first.checkpoint ?? committed
                last = (committed, landedRows)
            }
            if last != nil { waitingSince = unacked.isEmpty ? nil : monotonicSeconds() }
            lock.broadcast()
            return last
        }
        if let commit { onCommit(commit.0, commit.1) }
    }

    /// A new channel is up: send again what the plane has not acknowledged (it lands each seq once).
    public func resendUnacknowledged() {
        let frames = lock.withLock {
            if !unacked.isEmpty { waitingSince = monotonicSeconds() }
            return unacked.map(\.frame)
        }
        frames.forEach { outbox.send(bytes: $0) }
    }

    public func close(state: ExtractResult.State) throws {
        if state == .completed {
            // An empty final batch tells the plane the job's data is complete (a replace swaps then).
            try Array("[]".utf8).withUnsafeBufferPointer { try send(rowsJSON: $0, rowCount: 0, checkpoint: committedOrLast(), final: true) }
        }
        // Wait for every batch to be acknowledged; a stop waits a little, best effort.
        let deadline = monotonicSeconds() + (state == .completed ? .infinity : 5)
        try lock.withLock {
            while !unacked.isEmpty {
                if state == .completed && stopFlag.isRaised { throw HostedSinkError.stopped }
                if monotonicSeconds() > deadline { return }
                if deadline == .infinity { lock.wait() } else { lock.wait(until: deadline) }
            }
        }
    }

    func committedOrLast() -> Checkpoint? {
        lock.withLock { unacked.last?.checkpoint ?? committed }
    }

    public func totalRowsLanded() throws -> Int64 { lock.withLock { landedRows } }
}

enum HostedSinkError: Error, CustomStringConvertible {
    case stopped
    case notOpen
    case badResume(field: String, value: Int64)
    case frameTooLarge(rows: Int, bytes: Int)
    var description: String {
        switch self {
        case .stopped: return "stopped while waiting for the control plane to acknowledge batches"
        case .notOpen: return "hosted sink: a batch came before the sink was opened (a bug in the extract's order)"
        case .badResume(let field, let value):
            return "\(field): the control plane said \(value), expected 0 to \(HostedSink.maxResumeValue); the job cannot resume from it"
        case .frameTooLarge(let rows, let bytes):
            return "batch_bytes: a batch of \(rows) rows encodes to \(bytes) bytes, over the channel's \(ChannelClient.maxMessageBytes)-byte message limit; lower batch_bytes in connections.json"
        }
    }
}
