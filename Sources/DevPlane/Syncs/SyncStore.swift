import Foundation
import SQLiteStore
import TimbalModel

/// Syncs in `plane.sqlite`. A sync's runs are ordinary jobs carrying its `sync_id`; everything a
/// sync knows of its runs (failures in a row, the committed cursor) is read off those jobs.
extension PlaneStore {
    func prepareSyncTables() throws {
        try lock.withLock { try prepareSyncTablesLocked() }
    }

    private func prepareSyncTablesLocked() throws {
        try database.execute(
            """
            CREATE TABLE IF NOT EXISTS syncs (
                id TEXT PRIMARY KEY, org_id TEXT NOT NULL, connector_id TEXT NOT NULL, name TEXT,
                kb_id INTEGER NOT NULL, dest_table TEXT NOT NULL, placement TEXT NOT NULL, template TEXT NOT NULL,
                key_columns TEXT NOT NULL, interval_secs INTEGER NOT NULL, enabled INTEGER NOT NULL DEFAULT 1,
                disabled_reason TEXT, rebuild_first INTEGER NOT NULL DEFAULT 0, initial_cursor TEXT, failures_since TEXT,
                created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS jobs_by_sync ON jobs (sync_id, created_at);
            """)
    }

    func createSync(_ sync: SyncRow) throws {
        try lock.withLock {
            _ = try database.rows(
                """
                INSERT INTO syncs (id, org_id, connector_id, name, kb_id, dest_table, placement, template, key_columns,
                                   interval_secs, enabled, disabled_reason, rebuild_first, initial_cursor, failures_since,
                                   created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [.text(sync.id), .text(sync.orgID), .text(sync.connectorID), optional(sync.name), .integer(sync.kbID),
                 .text(sync.destTable), .text(sync.placement), .text(sync.template.serialized()),
                 .text(JSONValue.array(sync.keyColumns.map(JSONValue.string)).serialized()), .integer(sync.intervalSecs),
                 .integer(sync.enabled ? 1 : 0), optional(sync.disabledReason), .integer(sync.rebuildFirst ? 1 : 0),
                 optional(sync.initialCursor), optional(sync.failuresSince), .text(sync.createdAt), .text(sync.updatedAt)])
        }
    }

    func sync(id: String, org: String) throws -> SyncRow? {
        try lock.withLock { try syncsLocked(where: "id = ? AND org_id = ?", [.text(id), .text(org)]).first }
    }

    func syncs(org: String, connectorID: String?) throws -> [SyncRow] {
        try lock.withLock {
            if let connectorID { return try syncsLocked(where: "org_id = ? AND connector_id = ?", [.text(org), .text(connectorID)]) }
            return try syncsLocked(where: "org_id = ?", [.text(org)])
        }
    }

    func enabledSyncs() throws -> [SyncRow] {
        try lock.withLock { try syncsLocked(where: "enabled = 1", []) }
    }

    /// The sync that already keeps this table, if any (one sync per KB table).
    func sync(keeping kbID: Int64, destTable: String, placement: String) throws -> SyncRow? {
        try lock.withLock {
            try syncsLocked(where: "kb_id = ? AND dest_table = ? AND placement = ?", [.integer(kbID), .text(destTable), .text(placement)]).first
        }
    }

    /// Pause (the cursor is kept) or resume, and a new interval. Resuming a disabled sync forgives
    /// its failed runs so far.
    func updateSync(id: String, enabled: Bool?, intervalSecs: Int64?) throws {
        try lock.withLock {
            let now = Self.timestamp()
            if let intervalSecs {
                _ = try database.rows("UPDATE syncs SET interval_secs = ?, updated_at = ? WHERE id = ?",
                                      [.integer(intervalSecs), .text(now), .text(id)])
            }
            if enabled == true {
                _ = try database.rows(
                    "UPDATE syncs SET enabled = 1, disabled_reason = NULL, failures_since = ?, updated_at = ? WHERE id = ? AND enabled = 0",
                    [.text(now), .text(now), .text(id)])
            } else if enabled == false {
                _ = try database.rows("UPDATE syncs SET enabled = 0, updated_at = ? WHERE id = ? AND enabled = 1", [.text(now), .text(id)])
            }
        }
    }

    /// A new job template (PATCH of `deletes` or `reconcile_every_runs`).
    func updateSyncTemplate(id: String, template: JSONValue) throws {
        try lock.withLock {
            _ = try database.rows("UPDATE syncs SET template = ?, updated_at = ? WHERE id = ?",
                                  [.text(template.serialized()), .text(Self.timestamp()), .text(id)])
        }
    }

    func deleteSync(id: String) throws {
        try lock.withLock { _ = try database.rows("DELETE FROM syncs WHERE id = ?", [.text(id)]) }
    }

    func disableSync(id: String, reason: String) throws {
        try lock.withLock {
            _ = try database.rows("UPDATE syncs SET enabled = 0, disabled_reason = ?, updated_at = ? WHERE id = ? AND enabled = 1",
                                  [.text(reason), .text(Self.timestamp()), .text(id)])
        }
    }

    /// Disables every enabled sync of a connector (a revoked connector runs nothing); returns how many.
    public func disableSyncs(connectorID: String, reason: String) throws -> Int {
        try lock.withLock {
            try prepareSyncTablesLocked()
            let rows = try database.rows(
                "UPDATE syncs SET enabled = 0, disabled_reason = ?, updated_at = ? WHERE connector_id = ? AND enabled = 1 RETURNING id",
                [.text(reason), .text(Self.timestamp()), .text(connectorID)])
            return rows.count
        }
    }

    // MARK: runs

    func syncProgress(_ sync: SyncRow) throws -> SyncProgress {
        try lock.withLock {
            let id = SQLiteValue.text(sync.id)
            let lastRun = try syncRunsLocked(where: "sync_id = ?", [id], limit: 1).first
            let lastCompleted = try syncRunsLocked(where: "sync_id = ? AND state = 'completed'", [id], limit: 1).first
            let since = max(lastCompleted?.createdAt ?? "", sync.failuresSince ?? "")
            let failures = try database.rows(
                "SELECT count(*) FROM jobs WHERE sync_id = ? AND state = 'failed' AND created_at > ?", [id, .text(since)])
            // Runs that merge in place commit each batch with its checkpoint, so even a failed or
            // stopped one moved the table forward; a replace commits only when it completes.
            let cursor = try database.rows(
                """
                SELECT checkpoint FROM jobs WHERE sync_id = ? AND checkpoint IS NOT NULL
                  AND (state = 'completed' OR (state IN ('failed', 'stopped') AND mode IN ('append', 'upsert')))
                ORDER BY created_at DESC, rowid DESC LIMIT 1
                """, [id])
            var count = 0
            if case .integer(let n)? = failures.first?.first { count = Int(n) }
            var runs: Int64 = 0
            if case .integer(let n)? = try database.rows("SELECT count(*) FROM jobs WHERE sync_id = ?", [id]).first?.first { runs = n }
            return SyncProgress(lastRun: lastRun, lastCompleted: lastCompleted, consecutiveFailures: count,
                                committedCursor: cursor.first?.first?.text, runsSoFar: runs)
        }
    }

    func recentSyncRuns(syncID: String, limit: Int) throws -> [SyncRun] {
        try lock.withLock { try syncRunsLocked(where: "sync_id = ?", [.text(syncID)], limit: limit) }
    }

    struct SyncStats: Sendable {
        var runsTotal: Int64 = 0
        var runsCompleted: Int64 = 0
        var runsFailed: Int64 = 0
        var rowsTotal: Int64 = 0
        var rowsDeleted: Int64 = 0
    }

    func syncStats(syncID: String) throws -> SyncStats {
        try lock.withLock {
            let rows = try database.rows(
                """
                SELECT count(*), coalesce(sum(state = 'completed'), 0), coalesce(sum(state = 'failed'), 0), coalesce(sum(rows_emitted), 0),
                       coalesce(sum(rows_deleted), 0)
                FROM jobs WHERE sync_id = ?
                """, [.text(syncID)])
            guard let row = rows.first else { return SyncStats() }
            func int(_ v: SQLiteValue) -> Int64 { if case .integer(let x) = v { return x }; return 0 }
            return SyncStats(runsTotal: int(row[0]), runsCompleted: int(row[1]), runsFailed: int(row[2]), rowsTotal: int(row[3]), rowsDeleted: int(row[4]))
        }
    }

    // MARK: adopting a table

    /// Whether a job of this plane ever wrote (or was sent to write) this KB table.
    func planeTargeted(kbID: Int64, destTable: String, placement: String) throws -> Bool {
        try lock.withLock {
            try !database.rows("SELECT 1 FROM jobs WHERE kb_id = ? AND dest_table = ? AND placement = ? LIMIT 1",
                               [.integer(kbID), .text(destTable), .text(placement)]).isEmpty
        }
    }

    /// The checkpoint (JSON text) of the most recent completed job on this KB table, if it reported one.
    func lastCompletedCheckpoint(kbID: Int64, destTable: String, placement: String) throws -> String? {
        try lock.withLock {
            try database.rows(
                """
                SELECT checkpoint FROM jobs WHERE kb_id = ? AND dest_table = ? AND placement = ? AND state = 'completed'
                ORDER BY created_at DESC, rowid DESC LIMIT 1
                """, [.integer(kbID), .text(destTable), .text(placement)]).first?.first?.text
        }
    }

    // MARK: rows

    private func optional(_ text: String?) -> SQLiteValue { text.map(SQLiteValue.text) ?? .null }

    private func syncsLocked(where condition: String, _ arguments: [SQLiteValue]) throws -> [SyncRow] {
        try database.rows(
            """
            SELECT id, org_id, connector_id, name, kb_id, dest_table, placement, template, key_columns, interval_secs, enabled,
                   disabled_reason, rebuild_first, initial_cursor, failures_since, created_at, updated_at
            FROM syncs WHERE \(condition) ORDER BY created_at
            """, arguments).map { row in
            func int(_ v: SQLiteValue) -> Int64 { if case .integer(let x) = v { return x }; return 0 }
            var keys: [String] = []
            if let text = row[8].text, case .array(let items)? = try? JSONParser.parse(text) {
                keys = items.compactMap { if case .string(let s) = $0 { return s }; return nil }
            }
            return SyncRow(id: row[0].text ?? "", orgID: row[1].text ?? "", connectorID: row[2].text ?? "", name: row[3].text,
                           kbID: int(row[4]), destTable: row[5].text ?? "", placement: row[6].text ?? "",
                           template: (try? JSONParser.parse(row[7].text ?? "")) ?? .object([]), keyColumns: keys,
                           intervalSecs: int(row[9]), enabled: int(row[10]) != 0, disabledReason: row[11].text,
                           rebuildFirst: int(row[12]) != 0, initialCursor: row[13].text, failuresSince: row[14].text,
                           createdAt: row[15].text ?? "", updatedAt: row[16].text ?? "")
        }
    }

    /// Runs newest first.
    private func syncRunsLocked(where condition: String, _ arguments: [SQLiteValue], limit: Int) throws -> [SyncRun] {
        try database.rows(
            """
            SELECT id, state, mode, rows_emitted, rows_per_sec, message, created_at, started_at, finished_at, duration_ms
            FROM jobs WHERE \(condition) ORDER BY created_at DESC, rowid DESC LIMIT \(limit)
            """, arguments).map { row in
            func int(_ v: SQLiteValue) -> Int64? { if case .integer(let x) = v { return x }; return nil }
            func real(_ v: SQLiteValue) -> Double { if case .real(let x) = v { return x }; return Double(int(v) ?? 0) }
            return SyncRun(jobID: row[0].text ?? "", state: row[1].text ?? "", mode: row[2].text ?? "", rowsEmitted: int(row[3]) ?? 0,
                           rowsPerSec: real(row[4]), message: row[5].text, createdAt: row[6].text ?? "", startedAt: row[7].text,
                           finishedAt: row[8].text, durationMs: int(row[9]))
        }
    }
}
