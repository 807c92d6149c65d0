import ChannelProtocol
import TimbalModel
import TimbalSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import SQLiteStore

/// The development plane's own state (`<data-dir>/plane.sqlite`): enrollment tokens, connectors,
/// jobs. Survives restarts. Thread-safe (one connection behind a lock; every call is short).
public final class PlaneStore: @unchecked Sendable {
    let database: SQLiteDatabase
    let lock = Lock()

    public init(dataDir: String) throws {
        // Credentials and enrollment tokens live here: the directory is the plane's alone (0700).
        try PrivateDirectory.create(dataDir)
        chmod(dataDir, 0o700)
        database = try SQLiteDatabase.openWAL(path: dataDir + "/plane.sqlite")
        chmod(dataDir + "/plane.sqlite", 0o600)
        try database.execute(
            """
            CREATE TABLE IF NOT EXISTS enrollment_tokens (
                token_id TEXT PRIMARY KEY, token TEXT UNIQUE NOT NULL, org_id TEXT NOT NULL,
                expires_at TEXT NOT NULL, used_by TEXT);
            CREATE TABLE IF NOT EXISTS connectors (
                id TEXT PRIMARY KEY, org_id TEXT NOT NULL, credential TEXT UNIQUE NOT NULL, name TEXT, hostname TEXT,
                os TEXT, arch TEXT, version TEXT, capabilities TEXT NOT NULL DEFAULT '[]', enrolled_at TEXT NOT NULL,
                last_seen_at TEXT);
            CREATE TABLE IF NOT EXISTS jobs (
                id TEXT PRIMARY KEY, org_id TEXT NOT NULL, connector_id TEXT NOT NULL, kb_id INTEGER NOT NULL,
                spec TEXT NOT NULL, dest_table TEXT NOT NULL, mode TEXT NOT NULL, placement TEXT NOT NULL,
                state TEXT NOT NULL, rows_emitted INTEGER NOT NULL DEFAULT 0, rows_per_sec REAL NOT NULL DEFAULT 0,
                message TEXT, checkpoint TEXT, report_seq INTEGER NOT NULL DEFAULT 0,
                created_at TEXT NOT NULL, updated_at TEXT NOT NULL, started_at TEXT, finished_at TEXT, duration_ms INTEGER,
                sync_id TEXT);
            """)
        // Data dirs from earlier versions: add the newer columns.
        try addColumnIfMissing("jobs", "sync_id", "TEXT")
        try addColumnIfMissing("jobs", "stop_pending", "INTEGER NOT NULL DEFAULT 0")
        try addColumnIfMissing("connectors", "revoked_at", "TEXT")
        try addColumnIfMissing("enrollment_tokens", "name", "TEXT")
        try addColumnIfMissing("connectors", "token_name", "TEXT")
        try addColumnIfMissing("jobs", "eta_s", "REAL")
        try addColumnIfMissing("jobs", "rows_deleted", "INTEGER")
    }

    private func addColumnIfMissing(_ table: String, _ column: String, _ declaration: String) throws {
        let columns = try database.rows("SELECT name FROM pragma_table_info('\(table)')").compactMap { $0[0].text }
        if !columns.contains(column) { try database.execute("ALTER TABLE \(table) ADD COLUMN \(column) \(declaration)") }
    }

    static func randomToken(_ prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let hex = (0..<16).map { _ in String(UInt8.random(in: 0...255, using: &generator), radix: 16) }
            .map { $0.count == 1 ? "0" + $0 : $0 }.joined()
        return prefix + hex
    }

    static func timestamp(_ date: Date = Date()) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }

    // MARK: enrollment

    /// `name` (optional) names the connector that enrolls with the token, over the name it gives itself.
    public func mintEnrollmentToken(org: String, ttlSeconds: Int, name: String? = nil) throws -> (id: String, token: String, expiresAt: String) {
        let id = Self.randomToken("et_"), token = Self.randomToken("tok_")
        let expires = Self.timestamp(Date().addingTimeInterval(Double(ttlSeconds)))
        try lock.withLock {
            _ = try database.rows("INSERT INTO enrollment_tokens (token_id, token, org_id, expires_at, name) VALUES (?, ?, ?, ?, ?)",
                                  [.text(id), .text(token), .text(org), .text(expires), name.map(SQLiteValue.text) ?? .null])
        }
        return (id, token, expires)
    }

    /// Trades an unused, unexpired token for a new connector and its credential.
    public func enroll(token: String, name: String, hostname: String) throws -> (connectorID: String, credential: String)? {
        try lock.withLock {
            let rows = try database.rows("SELECT token_id, org_id, expires_at, used_by, name FROM enrollment_tokens WHERE token = ?", [.text(token)])
            guard let row = rows.first, row[3] == .null, let expires = row[2].text, expires > Self.timestamp(), let org = row[1].text else {
                return nil
            }
            let id = Self.randomToken("conn_"), credential = Self.randomToken("cred_")
            let now = Self.timestamp()
            let tokenName = row[4].text
            _ = try database.rows(
                "INSERT INTO connectors (id, org_id, credential, name, hostname, enrolled_at, token_name) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [.text(id), .text(org), .text(credential), .text(tokenName ?? name), .text(hostname), .text(now),
                 tokenName.map(SQLiteValue.text) ?? .null])
            try database.execute("UPDATE enrollment_tokens SET used_by = ? WHERE token = ?", [.text(id), .text(token)])
            return (id, credential)
        }
    }

    // MARK: connectors

    public struct ConnectorRow: Sendable {
        public var id: String
        public var orgID: String
        public var name: String?
        public var hostname: String?
        public var os: String?
        public var arch: String?
        public var version: String?
        public var capabilities: [String]
        public var enrolledAt: String
        public var lastSeenAt: String?
        public var revokedAt: String?
    }

    public func connector(credential: String) throws -> ConnectorRow? {
        try lock.withLock { try connectorsLocked(where: "credential = ?", [.text(credential)]).first }
    }

    /// A connector by id alone: for the channel, which knows its connector from the credential.
    func connector(id: String) throws -> ConnectorRow? {
        try lock.withLock { try connectorsLocked(where: "id = ?", [.text(id)]).first }
    }

    public func connector(id: String, org: String) throws -> ConnectorRow? {
        try lock.withLock { try connectorsLocked(where: "id = ? AND org_id = ?", [.text(id), .text(org)]).first }
    }

    public func connectors(org: String) throws -> [ConnectorRow] {
        try lock.withLock { try connectorsLocked(where: "org_id = ?", [.text(org)]) }
    }

    private func connectorsLocked(where condition: String, _ arguments: [SQLiteValue]) throws -> [ConnectorRow] {
        try database.rows(
            "SELECT id, org_id, coalesce(token_name, name), hostname, os, arch, version, capabilities, enrolled_at, last_seen_at, revoked_at FROM connectors WHERE \(condition) ORDER BY enrolled_at",
            arguments).map { row in
            var capabilities: [String] = []
            if let text = row[7].text, case .array(let items)? = try? JSONParser.parse(text) {
                capabilities = items.compactMap { if case .string(let s) = $0 { return s }; return nil }
            }
            return ConnectorRow(id: row[0].text ?? "", orgID: row[1].text ?? "", name: row[2].text, hostname: row[3].text,
                                os: row[4].text, arch: row[5].text, version: row[6].text, capabilities: capabilities,
                                enrolledAt: row[8].text ?? "", lastSeenAt: row[9].text, revokedAt: row[10].text)
        }
    }

    public func recordHello(connectorID: String, _ hello: Hello) throws {
        try lock.withLock {
            let update = try database.prepare(
                "UPDATE connectors SET name = ?, hostname = ?, os = ?, arch = ?, version = ?, capabilities = ?, last_seen_at = ? WHERE id = ?")
            let caps = JSONValue.array(hello.capabilities.map(JSONValue.string)).serialized()
            for (i, v) in [hello.name, hello.hostname, hello.os, hello.arch, hello.version, caps, Self.timestamp(), connectorID].enumerated() {
                try update.bind(.text(v), at: i + 1)
            }
            try update.run()
        }
    }

    public func touch(connectorID: String) throws {
        try lock.withLock {
            try database.execute("UPDATE connectors SET last_seen_at = ? WHERE id = ?", [.text(Self.timestamp()), .text(connectorID)])
        }
    }

    // MARK: jobs

    public struct JobRow: Sendable {
        public var id: String
        public var connectorID: String
        public var kbID: Int64
        public var spec: String
        public var destTable: String
        public var mode: String
        public var placement: String
        public var state: String
        public var rowsEmitted: Int64
        public var rowsPerSec: Double
        public var message: String?
        public var createdAt: String
        public var updatedAt: String
        public var startedAt: String?
        public var finishedAt: String?
        public var durationMs: Int64?
        /// The last checkpoint the connector reported (JSON text), for a sync's next run.
        public var checkpoint: String?
        /// The sync this job is a run of.
        public var syncID: String?
        /// Seconds left, as the connector last estimated (running jobs).
        public var etaSeconds: Double?
        /// Rows the job's delete reconciliation removed or marked (nil: none ran).
        public var rowsDeleted: Int64? = nil

        public var isTerminal: Bool { ["completed", "failed", "stopped"].contains(state) }
    }

    public func createJob(org: String, connectorID: String, spec: JobSpec, body: String, syncID: String? = nil) throws -> String {
        let id = Self.randomToken("job_")
        let now = Self.timestamp()
        try lock.withLock {
            let insert = try database.prepare(
                """
                INSERT INTO jobs (id, org_id, connector_id, kb_id, spec, dest_table, mode, placement, state, created_at, updated_at, sync_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'dispatched', ?, ?, ?)
                """)
            let values: [SQLiteValue] = [.text(id), .text(org), .text(connectorID), .integer(spec.kbID), .text(body), .text(spec.destTable),
                                         .text(spec.mode.rawValue), .text(spec.placement.rawValue), .text(now), .text(now),
                                         syncID.map(SQLiteValue.text) ?? .null]
            try insert.run(values)
        }
        return id
    }

    public func job(id: String, org: String) throws -> JobRow? {
        try lock.withLock { try jobsLocked(where: "id = ? AND org_id = ?", [.text(id), .text(org)]).first }
    }

    public func job(id: String, connectorID: String) throws -> JobRow? {
        try lock.withLock { try jobsLocked(where: "id = ? AND connector_id = ?", [.text(id), .text(connectorID)]).first }
    }

    public func jobs(org: String, connectorID: String?) throws -> [JobRow] {
        try lock.withLock {
            if let connectorID { return try jobsLocked(where: "org_id = ? AND connector_id = ?", [.text(org), .text(connectorID)]) }
            return try jobsLocked(where: "org_id = ?", [.text(org)])
        }
    }

    /// Whether a job exists and has not ended (completed, failed or stopped).
    public func isJobOpen(id: String) throws -> Bool {
        try lock.withLock {
            guard let job = try jobsLocked(where: "id = ?", [.text(id)]).first else { return false }
            return !["completed", "failed", "stopped"].contains(job.state)
        }
    }

    /// Jobs of a connector that have not finished, to dispatch again when it reconnects.
    public func openJobs(connectorID: String) throws -> [JobRow] {
        try lock.withLock { try jobsLocked(where: "connector_id = ? AND state IN ('dispatched')", [.text(connectorID)]) }
    }

    private func jobsLocked(where condition: String, _ arguments: [SQLiteValue]) throws -> [JobRow] {
        try database.rows(
            """
            SELECT id, connector_id, kb_id, spec, dest_table, mode, placement, state, rows_emitted, rows_per_sec, message,
                   created_at, updated_at, started_at, finished_at, duration_ms, checkpoint, sync_id, eta_s, rows_deleted
            FROM jobs WHERE \(condition) ORDER BY created_at
            """, arguments).map { row in
            func int(_ v: SQLiteValue) -> Int64? { if case .integer(let x) = v { return x }; return nil }
            func real(_ v: SQLiteValue) -> Double { if case .real(let x) = v { return x }; if case .integer(let x) = v { return Double(x) }; return 0 }
            var job = JobRow(id: row[0].text ?? "", connectorID: row[1].text ?? "", kbID: int(row[2]) ?? 0, spec: row[3].text ?? "",
                          destTable: row[4].text ?? "", mode: row[5].text ?? "", placement: row[6].text ?? "",
                          state: row[7].text ?? "", rowsEmitted: int(row[8]) ?? 0, rowsPerSec: real(row[9]), message: row[10].text,
                          createdAt: row[11].text ?? "", updatedAt: row[12].text ?? "", startedAt: row[13].text,
                          finishedAt: row[14].text, durationMs: int(row[15]), checkpoint: row[16].text, syncID: row[17].text,
                          etaSeconds: { if case .real(let x) = row[18] { return x }; return nil }())
            job.rowsDeleted = int(row[19])
            return job
        }
    }

    /// Applies a connector's report once (by report_seq). A job the plane stopped stays stopped.
    public func apply(_ report: JobReport, connectorID: String) throws {
        try lock.withLock {
            let rows = try database.rows("SELECT state, report_seq, started_at FROM jobs WHERE id = ? AND connector_id = ?",
                                         [.text(report.jobID), .text(connectorID)])
            guard let row = rows.first else { return }
            if case .integer(let seen) = row[1], seen >= report.reportSeq { return }
            let current = row[0].text ?? ""
            let sticky = ["completed", "failed", "stopped"].contains(current)
            let state = sticky ? current : report.state.rawValue
            let now = Self.timestamp()
            // A job that failed before it ran has no start of its own: it started when it ended.
            let startedAt = row[2].text ?? (report.state == .accepted ? nil : (report.startedAt ?? report.finishedAt ?? now))
            let finishedAt: SQLiteValue = report.state.isTerminal || sticky ? .text(report.finishedAt ?? now) : .null
            // A terminal report means the connector has ended the job: a pending stop has landed.
            let update = try database.prepare(
                """
                UPDATE jobs SET stop_pending = stop_pending * \(report.state.isTerminal ? 0 : 1), eta_s = ?, state = ?, rows_emitted = ?, rows_per_sec = ?, message = coalesce(?, message), checkpoint = coalesce(?, checkpoint),
                    report_seq = ?, updated_at = ?, started_at = ?, finished_at = coalesce(finished_at, ?), duration_ms = coalesce(?, duration_ms),
                    rows_deleted = coalesce(?, rows_deleted)
                WHERE id = ?
                """)
            let eta: SQLiteValue = report.state.isTerminal || sticky ? .null : report.etaSeconds.map(SQLiteValue.real) ?? .null
            let values: [SQLiteValue] = [
                eta, .text(state), .integer(report.rowsEmitted), .real(report.rowsPerSec), report.message.map(SQLiteValue.text) ?? .null,
                report.checkpoint.map { .text($0.serialized()) } ?? .null, .integer(report.reportSeq), .text(now),
                startedAt.map(SQLiteValue.text) ?? .null, finishedAt, report.durationMs.map(SQLiteValue.integer) ?? .null,
                report.rowsDeleted.map(SQLiteValue.integer) ?? .null, .text(report.jobID)]
            try update.run(values)
        }
    }

    /// Marks a job stopped at once (the connector is told separately); a finished job keeps its state.
    public func markStopped(id: String) throws {
        try lock.withLock {
            let now = Self.timestamp()
            try database.execute(
                "UPDATE jobs SET state = 'stopped', stop_pending = 1, finished_at = ?, updated_at = ? WHERE id = ? AND state NOT IN ('completed', 'failed', 'stopped')",
                [.text(now), .text(now), .text(id)])
        }
    }

    /// Jobs the plane stopped whose connector has not yet said it ended them: sent `stop` again
    /// on every hello until a terminal report comes back.
    public func pendingStops(connectorID: String) throws -> [String] {
        try lock.withLock {
            try database.rows("SELECT id FROM jobs WHERE connector_id = ? AND stop_pending = 1 ORDER BY created_at",
                              [.text(connectorID)]).compactMap { $0[0].text }
        }
    }

    /// Revokes a connector: its credential is refused from now on and its open jobs are stopped.
    /// Returns false for an unknown connector.
    public func revoke(connectorID: String, org: String) throws -> Bool {
        try lock.withLock {
            guard try !database.rows("SELECT 1 FROM connectors WHERE id = ? AND org_id = ?", [.text(connectorID), .text(org)]).isEmpty else {
                return false
            }
            let now = Self.timestamp()
            _ = try database.rows("UPDATE connectors SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?", [.text(now), .text(connectorID)])
            _ = try database.rows(
                """
                UPDATE jobs SET state = 'stopped', message = 'the connector was revoked', finished_at = ?, updated_at = ?
                WHERE connector_id = ? AND state NOT IN ('completed', 'failed', 'stopped')
                """, [.text(now), .text(now), .text(connectorID)])
            return true
        }
    }
}
