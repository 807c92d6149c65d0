import ChannelProtocol
import ConnectorCore
#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials
import SQLiteStore

/// The daemon's memory: `<state-dir>/state.sqlite` holds every job it accepted, its state, the
/// last report it made (numbered) and whether the plane acknowledged it. Thread-safe.
public final class StateStore: @unchecked Sendable {
    private let database: SQLiteDatabase
    private let lock = Lock()

    /// One job as the daemon remembers it.
    public struct JobRow: Sendable {
        public var jobID: String
        public var spec: String
        public var state: JobReport.State
        public var rowsEmitted: Int64
        public var rowsPerSec: Double
        public var checkpoint: String?
        public var message: String?
        public var createdAt: String
        public var updatedAt: String
    }

    /// Opens the state DB, creating the state dir (0700) unless `mustExist` (read-only commands
    /// such as `jobs` never create state: a mistyped path says so instead).
    public init(stateDir: String, mustExist: Bool = false) throws {
        if mustExist {
            guard access(stateDir + "/state.sqlite", F_OK) == 0 else {
                throw ConfigError(file: stateDir, key: "", problem: "no state here (no state.sqlite): is this the daemon's --state-dir?")
            }
        } else {
            do { try PrivateDirectory.create(stateDir) } catch { throw ConfigError(file: stateDir, key: "", problem: "\(error)") }
        }
        database = try SQLiteDatabase.openWAL(path: stateDir + "/state.sqlite")
        try database.execute(
            """
            CREATE TABLE IF NOT EXISTS jobs (
                job_id TEXT PRIMARY KEY,
                spec TEXT NOT NULL,
                state TEXT NOT NULL,
                rows_emitted INTEGER NOT NULL DEFAULT 0,
                rows_per_sec REAL NOT NULL DEFAULT 0,
                checkpoint TEXT,
                message TEXT,
                report_seq INTEGER NOT NULL DEFAULT 0,
                acked_seq INTEGER NOT NULL DEFAULT 0,
                created_at TEXT NOT NULL,
                started_at TEXT,
                finished_at TEXT,
                duration_ms INTEGER,
                updated_at TEXT NOT NULL
            )
            """)
        // State DBs from before the ETA: add its column.
        let columns = try database.rows("SELECT name FROM pragma_table_info('jobs')").compactMap { $0[0].text }
        if !columns.contains("eta_s") { try database.execute("ALTER TABLE jobs ADD COLUMN eta_s REAL") }
        if !columns.contains("rows_deleted") { try database.execute("ALTER TABLE jobs ADD COLUMN rows_deleted INTEGER") }
    }

    /// Records a dispatched job; false if the daemon already knows this job id.
    public func accept(jobID: String, spec: String) throws -> Bool {
        try lock.withLock {
            if try !database.rows("SELECT 1 FROM jobs WHERE job_id = ?", [.text(jobID)]).isEmpty { return false }
            let now = utcTimestamp()
            let insert = try database.prepare("INSERT INTO jobs (job_id, spec, state, created_at, updated_at) VALUES (?, ?, 'accepted', ?, ?)")
            try insert.run([.text(jobID), .text(spec), .text(now), .text(now)])
            return true
        }
    }

    /// A change to a job's reported state; nil fields stay as they are.
    public struct Change: Sendable {
        public var state: JobReport.State?
        public var rowsEmitted: Int64?
        public var rowsPerSec: Double?
        public var checkpoint: String?
        public var message: String?
        /// Seconds left at the current rate; cleared when the job ends.
        public var etaSeconds: Double?
        /// Rows the delete reconciliation removed or marked.
        public var rowsDeleted: Int64?
        public init(state: JobReport.State? = nil, rowsEmitted: Int64? = nil, rowsPerSec: Double? = nil,
                    checkpoint: String? = nil, message: String? = nil, etaSeconds: Double? = nil) {
            self.etaSeconds = etaSeconds
            self.state = state
            self.rowsEmitted = rowsEmitted
            self.rowsPerSec = rowsPerSec
            self.checkpoint = checkpoint
            self.message = message
        }
    }

    /// Applies `change`, numbers it as the job's next report and returns that report.
    /// A finished job keeps its terminal state: later changes are ignored.
    @discardableResult
    public func record(jobID: String, _ change: Change) throws -> JobReport? {
        try lock.withLock {
            guard let current = try reportLocked(jobID) else { return nil }
            if current.state.isTerminal { return nil }
            let now = utcTimestamp()
            var sets = ["report_seq = report_seq + 1", "updated_at = ?"]
            var values: [SQLiteValue] = [.text(now)]
            if let state = change.state {
                sets.append("state = ?"); values.append(.text(state.rawValue))
                if state == .running { sets.append("started_at = coalesce(started_at, ?)"); values.append(.text(now)) }
                if state.isTerminal {
                    sets.append("eta_s = NULL")
                    sets.append("finished_at = ?"); values.append(.text(now))
                    sets.append("duration_ms = CAST((julianday(?) - julianday(coalesce(started_at, created_at))) * 86400000 AS INTEGER)")
                    values.append(.text(now))
                }
            }
            if let rows = change.rowsEmitted { sets.append("rows_emitted = ?"); values.append(.integer(rows)) }
            if let rate = change.rowsPerSec { sets.append("rows_per_sec = ?"); values.append(.real(rate)) }
            if let checkpoint = change.checkpoint { sets.append("checkpoint = ?"); values.append(.text(checkpoint)) }
            if let message = change.message { sets.append("message = ?"); values.append(.text(message)) }
            if let eta = change.etaSeconds { sets.append("eta_s = ?"); values.append(.real(eta)) }
            if let deleted = change.rowsDeleted { sets.append("rows_deleted = ?"); values.append(.integer(deleted)) }
            let update = try database.prepare("UPDATE jobs SET \(sets.joined(separator: ", ")) WHERE job_id = ?")
            try update.run(values + [.text(jobID)])
            return try reportLocked(jobID)
        }
    }

    /// The job's latest report, as it would be sent now.
    public func report(jobID: String) throws -> JobReport? {
        try lock.withLock { try reportLocked(jobID) }
    }

    private func reportLocked(_ jobID: String) throws -> JobReport? {
        let rows = try database.rows(
            """
            SELECT report_seq, state, rows_emitted, rows_per_sec, checkpoint, message, started_at, finished_at, duration_ms, eta_s, rows_deleted
            FROM jobs WHERE job_id = ?
            """, [.text(jobID)])
        guard let row = rows.first else { return nil }
        func int(_ v: SQLiteValue) -> Int64? { if case .integer(let x) = v { return x }; return nil }
        func real(_ v: SQLiteValue) -> Double { if case .real(let x) = v { return x }; if case .integer(let x) = v { return Double(x) }; return 0 }
        let checkpoint = row[4].text.flatMap { try? JSONParser.parse($0) }
        var report = JobReport(jobID: jobID, reportSeq: int(row[0]) ?? 0, state: JobReport.State(rawValue: row[1].text ?? "") ?? .failed,
                               rowsEmitted: int(row[2]) ?? 0, rowsPerSec: real(row[3]), checkpoint: checkpoint, message: row[5].text,
                               startedAt: row[6].text, finishedAt: row[7].text, durationMs: int(row[8]))
        if case .real(let eta) = row[9] { report.etaSeconds = eta }
        report.rowsDeleted = int(row[10])
        return report
    }

    /// The plane has applied report `seq` of the job.
    public func acknowledge(jobID: String, reportSeq: Int64) throws {
        try lock.withLock {
            try database.execute("UPDATE jobs SET acked_seq = max(acked_seq, ?) WHERE job_id = ?", [.integer(reportSeq), .text(jobID)])
        }
    }

    /// Jobs whose latest report the plane has not acknowledged yet.
    public func unacknowledgedJobs() throws -> [String] {
        try lock.withLock {
            try database.rows("SELECT job_id FROM jobs WHERE report_seq > acked_seq ORDER BY created_at").compactMap { $0[0].text }
        }
    }

    /// Jobs accepted or running when the daemon last stopped, with their specs, oldest first.
    public func unfinishedJobs() throws -> [(jobID: String, spec: String)] {
        try lock.withLock {
            try database.rows("SELECT job_id, spec FROM jobs WHERE state IN ('accepted', 'running') ORDER BY created_at")
                .map { ($0[0].text ?? "", $0[1].text ?? "") }
        }
    }

    /// The most recent jobs, newest first.
    public func recentJobs(limit: Int) throws -> [JobRow] {
        try lock.withLock {
            try database.rows(
                """
                SELECT job_id, spec, state, rows_emitted, rows_per_sec, checkpoint, message, created_at, updated_at
                FROM jobs ORDER BY created_at DESC LIMIT ?
                """, [.integer(Int64(limit))]).map { row in
                func int(_ v: SQLiteValue) -> Int64 { if case .integer(let x) = v { return x }; return 0 }
                func real(_ v: SQLiteValue) -> Double { if case .real(let x) = v { return x }; return 0 }
                return JobRow(jobID: row[0].text ?? "", spec: row[1].text ?? "",
                              state: JobReport.State(rawValue: row[2].text ?? "") ?? .failed, rowsEmitted: int(row[3]),
                              rowsPerSec: real(row[4]), checkpoint: row[5].text, message: row[6].text,
                              createdAt: row[7].text ?? "", updatedAt: row[8].text ?? "")
            }
        }
    }
}
