import ChannelProtocol
import TimbalModel
import TimbalSupport
import Foundation
import KBRules
import SQLiteStore

/// The plane's hosted KBs: one SQLite file per kb_id in `<data-dir>/kb/`, kept by the same KB rules
/// as a local KB (`KBRules`: modes, merge by key, schema checks, `_timbal_jobs`). Each batch lands in
/// one transaction together with its `(job_id, seq)` in `_timbal_batches`, so a resent batch lands once.
public final class HostedKBs: @unchecked Sendable {
    private let directory: String
    private let lock = Lock()
    private var open: [Int64: KBFile] = [:]
    /// Each open KB's WAL checkpoints run on a thread of their own, off the landing task.
    private var checkpointers: [Int64: WALCheckpointer] = [:]
    /// The table each running job writes into, decided at its first batch of a run.
    private var targets: [String: KBTarget] = [:]
    /// Rows each job's reconcile batches removed or marked, until the endpoint records them.
    private var deleted: [String: Int64] = [:]

    /// Asks the plane whether a job is still open, so a job that died without finishing does not
    /// hold its table for ever.
    private let isJobOpen: @Sendable (String) -> Bool

    /// The KB ids the plane serves: no file is opened or created for any other id.
    private let servedKBs: Set<Int64>
    /// Largest a hosted KB file may grow (SQLite's `max_page_count`): a batch past it is refused.
    private let maxKBBytes: Int64

    public init(dataDir: String, servedKBs: [Int64], maxKBBytes: Int64 = DevPlaneConfig.defaultMaxKBBytes,
                isJobOpen: @escaping @Sendable (String) -> Bool = { _ in true }) throws {
        self.isJobOpen = isJobOpen
        self.servedKBs = Set(servedKBs)
        self.maxKBBytes = maxKBBytes
        directory = dataDir + "/kb"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    public func path(kbID: Int64) -> String { "\(directory)/\(kbID).sqlite" }

    private func kb(_ kbID: Int64) throws -> KBFile {
        if let existing = open[kbID] { return existing }
        guard servedKBs.contains(kbID) else { throw KBError(field: "kb_id", problem: "\(kbID) is not a KB this plane serves") }
        let kb = try KBFile(path: path(kbID: kbID), kbID: kbID, label: "hosted KB \(kbID)")
        // Never write on a damaged file: checked once per plane process, before the first batch.
        // (Messages name the KB, never the data directory's path.)
        if let damage = try kb.database.quickCheck() {
            throw KBError(field: "kb", problem: "hosted KB \(kbID) is damaged (\(damage)); move its file aside or restore it from a backup")
        }
        // The quota: SQLite refuses to grow the file past it (SQLITE_FULL), the batch is refused.
        let pages = max(1, maxKBBytes / Int64(SQLiteDatabase.kbPageSize))
        _ = try kb.database.rows("PRAGMA max_page_count = \(pages)")
        try kb.database.execute(
            """
            CREATE TABLE IF NOT EXISTS _timbal_batches (
                job_id TEXT NOT NULL, seq INTEGER NOT NULL, rows INTEGER NOT NULL, checkpoint TEXT, landed_at TEXT NOT NULL,
                PRIMARY KEY (job_id, seq))
            """)
        checkpointers[kbID] = try WALCheckpointer(path: path(kbID: kbID), writer: kb.database)
        open[kbID] = kb
        return kb
    }

    private func database(_ kbID: Int64) throws -> SQLiteDatabase { try kb(kbID).database }

    /// Where a hosted job stands: its last landed batch.
    public func position(jobID: String, kbID: Int64) throws -> HostedResume? {
        try lock.withLock {
            let db = try database(kbID)
            let rows = try db.rows(
                "SELECT seq, checkpoint, (SELECT sum(rows) FROM _timbal_batches WHERE job_id = ?1) FROM _timbal_batches WHERE job_id = ?1 ORDER BY seq DESC LIMIT 1",
                [.text(jobID)])
            guard let row = rows.first, case .integer(let seq) = row[0] else { return nil }
            let checkpoint = row[1].text.flatMap { try? JSONParser.parse($0) }
            var landed: Int64 = 0
            if case .integer(let total) = row[2] { landed = total }
            return HostedResume(jobID: jobID, seq: seq, checkpoint: checkpoint, rowsLanded: landed)
        }
    }

    /// Lands a batch exactly once; returns false if it had landed before (a resend).
    /// `rows` is the message's raw `rows` JSON (`bytes[range]`), streamed into SQLite by `RowsLander`.
    @discardableResult
    public func land(_ batch: HostedBatch, bytes: [UInt8], rows range: Range<Int>) throws -> Bool {
        do {
            return try landLocked(batch, bytes: bytes, rows: range)
        } catch let error as SQLiteError {
            // SQLite's own text names the file; what the plane says (job views, logs) does not.
            if error.isDiskFull {
                throw KBError(field: "kb_id", problem: "hosted KB \(batch.kbID) is full: its quota is \(maxKBBytes) bytes (or the plane's disk is full)")
            }
            throw KBError(field: "kb_id", problem: "hosted KB \(batch.kbID): sqlite: \(error.message) [code \(error.code)]")
        }
    }

    private func landLocked(_ batch: HostedBatch, bytes: [UInt8], rows range: Range<Int>) throws -> Bool {
        try lock.withLock {
            let kb = try kb(batch.kbID)
            let db = kb.database
            if try !db.rows("SELECT 1 FROM _timbal_batches WHERE job_id = ? AND seq = ?", [.text(batch.jobID), .integer(batch.seq)]).isEmpty {
                return false
            }
            // Batches land in order: the next one is the last landed + 1 (a connector sends them in
            // order and resends from its oldest unacknowledged one). Anything else is not this job's.
            let last = try db.rows("SELECT max(seq) FROM _timbal_batches WHERE job_id = ?", [.text(batch.jobID)]).first?.first
            let expected: Int64 = { if case .integer(let seq)? = last { return seq + 1 }; return 1 }()
            guard batch.seq == expected else {
                throw KBError(field: "seq", problem: "\(batch.seq), expected \(expected) (the next batch of job \(batch.jobID))")
            }
            let target = try target(for: batch, in: kb)
            if let reconcile = batch.reconcile {
                // deletes: a slice of the reconciliation, applied with its seq in one transaction.
                let count = try HostedDeletes.apply(reconcile, batch: batch, target: target, kb: kb) { try record(batch, rows: 0, in: db) }
                deleted[batch.jobID, default: 0] += count
                return true
            }
            if batch.final {
                // The job's data is complete: swap a replace's staging table in. Idempotent, so a
                // final batch resent after a crash between the two steps finds the swap done.
                try target.finish(kb: kb, jobID: batch.jobID, state: "completed")
                targets.removeValue(forKey: batch.jobID)
                try db.transaction { try record(batch, rows: 0, in: db) }
                return true
            }
            let writer = try KBRowWriter(kb: kb, target: target, columns: batch.columns.map(\.name), jobID: batch.jobID)
            // Rows in cursor order land all over a keyed table's B-tree: sorted by key first, each
            // page the batch touches is written once (KBRowWriter's stage). Rows a load by key
            // sends (`key_order`) are in that order already.
            try writer.land(checkpoint: batch.checkpoint?.serialized(), sortedByKey: !batch.inKeyOrder) { writer in
                let count = try RowsLander(bytes: bytes, range: range, kbTypes: batch.columns.map(\.kbType)).land(into: writer)
                try record(batch, rows: count, in: db)
                return count
            }
            return true
        }
    }

    /// Rows the job's reconcile batches removed or marked since the last call (nil: none).
    func takeDeleted(jobID: String) -> Int64? {
        lock.withLock { deleted.removeValue(forKey: jobID) }
    }

    /// Whether this batch's `(job_id, seq)` has landed; false for a KB this plane does not serve or that has no file.
    func hasLanded(_ batch: HostedBatch) throws -> Bool {
        try lock.withLock {
            guard servedKBs.contains(batch.kbID), open[batch.kbID] != nil || FileManager.default.fileExists(atPath: path(kbID: batch.kbID)) else {
                return false
            }
            return try !database(batch.kbID).rows("SELECT 1 FROM _timbal_batches WHERE job_id = ? AND seq = ?",
                                                  [.text(batch.jobID), .integer(batch.seq)]).isEmpty
        }
    }

    private func record(_ batch: HostedBatch, rows: Int, in db: SQLiteDatabase) throws {
        try db.execute("INSERT INTO _timbal_batches (job_id, seq, rows, checkpoint, landed_at) VALUES (?, ?, ?, ?, ?)", [.text(batch.jobID), .integer(batch.seq), .integer(Int64(rows)), batch.checkpoint.map { .text($0.serialized()) } ?? .null, .text(PlaneStore.timestamp())])
    }

    /// The job's target table: prepared by the shared rules at the first batch of each run (the
    /// connector marks it), or after this plane restarted.
    private func target(for batch: HostedBatch, in kb: KBFile) throws -> KBTarget {
        if !batch.runStart, let known = targets[batch.jobID] { return known }
        // One job writes a table at a time, as with local KBs (there a flock says so).
        let writers = try kb.database.rows(
            "SELECT job_id FROM _timbal_jobs WHERE dest_table = ? AND state = 'running' AND job_id <> ?",
            [.text(batch.destTable), .text(batch.jobID)]).compactMap { $0.first?.text }
        if let other = writers.first(where: isJobOpen) {
            throw KBError(field: "dest_table", problem: "\"\(batch.destTable)\" in hosted KB \(batch.kbID) is being written by another job (job=\(other)); jobs writing one table run one at a time")
        }
        var plan = KBWritePlan(
            columns: batch.columns.map { KBColumn(name: $0.name, sourceType: $0.dataType, kbType: $0.kbType) },
            mergeKey: batch.keyColumns,
            sourceCatalog: batch.sourceColumns.map { Dictionary($0.map { ($0.name, $0.dataType) }, uniquingKeysWith: { first, _ in first }) },
            sourceName: "the source table")
        plan.startsOver = batch.startsOver
        // Only a run's first batch rebuilds a keyless snapshot's staging table; after a plane
        // restart mid-run, the batches that follow go on into the staging table as it is.
        let target = batch.startsOver && !batch.runStart
            ? try KBTarget.continuing(kb: kb, jobID: batch.jobID, dest: batch.destTable, mode: batch.mode)
            : try KBTarget.prepare(kb: kb, jobID: batch.jobID, dest: batch.destTable, mode: batch.mode, plan: plan)
        if batch.deletes == DeletesChoice.soft.rawValue {
            try KBDeletes.prepareSoft(kb: kb, table: target.table, sourceName: "the source table")
        }
        targets[batch.jobID] = target
        return target
    }

    /// The KB's file, if it exists; for read-only queries (`HostedKBs+Query.swift`).
    func existingPath(kbID: Int64) -> String? {
        guard servedKBs.contains(kbID), FileManager.default.fileExists(atPath: path(kbID: kbID)) else { return nil }
        return path(kbID: kbID)
    }
}
