import SQLiteStore
import TimbalSupport

/// Writes one batch's rows into a KB table, merging by key, and commits the job's checkpoint in
/// the same transaction: one implementation for both placements; only how a row's cells are bound
/// differs (from libpq's buffers locally, from the channel's JSON on the plane).
public final class KBRowWriter {
    private let kb: KBFile
    private let jobID: String
    /// `INSERT … VALUES (?1, …)`, with `ON CONFLICT (key) DO NOTHING` when the table has a key.
    public let insert: SQLiteStatement
    /// `UPDATE … SET c = ?n … WHERE key = ?k`: the same numbered parameters as `insert`, so a row
    /// bound once for the insert can be bound the same way again for the merge.
    private let update: SQLiteStatement?
    private let keyed: Bool
    private let saveCheckpoint: SQLiteStatement
    private let target: KBTarget
    private let columns: [String]
    /// Rows held back to be written in key order (keyed tables only; built on first use).
    private var stage: KBStage?
    /// While true, `row` adds to the stage instead of the table.
    private var staging = false

    public init(kb: KBFile, target: KBTarget, columns: [String], jobID: String) throws {
        self.kb = kb
        self.jobID = jobID
        self.target = target
        self.columns = columns
        let names = columns.map { SQLIdentifier.quote($0) }
        let table = SQLIdentifier.quote(target.table)
        var sql = "INSERT INTO \(table) (\(names.joined(separator: ", "))) VALUES ("
            + (1...names.count).map { "?\($0)" }.joined(separator: ", ") + ")"
        keyed = !target.mergeKey.isEmpty
        if keyed {
            sql += " ON CONFLICT (\(target.mergeKey.map { SQLIdentifier.quote($0) }.joined(separator: ", "))) DO NOTHING"
            var positions: [String: Int] = [:]
            for (index, name) in columns.enumerated() where positions[name] == nil { positions[name] = index + 1 }
            // A key the batch does not carry cannot be matched on: refused, never a crash.
            for key in target.mergeKey where positions[key] == nil {
                throw KBError(field: "key_columns", problem: "key column \"\(key.forMessage)\" is not among the batch's columns")
            }
            let position = { (name: String) in positions[name] ?? 0 }
            var assignments = columns.filter { !target.mergeKey.contains($0) }.map { "\(SQLIdentifier.quote($0)) = ?\(position($0))" }
            // deletes "soft": a row landed again exists at the source, so it loses its mark.
            if let clear = try KBDeletes.clearMarkAssignment(kb: kb, table: target.table, columns: columns) { assignments.append(clear) }
            let match = target.mergeKey.map { "\(SQLIdentifier.quote($0)) = ?\(position($0))" }.joined(separator: " AND ")
            update = assignments.isEmpty ? nil
                : try kb.database.prepare("UPDATE \(table) SET \(assignments.joined(separator: ", ")) WHERE \(match)")
        } else {
            update = nil
        }
        insert = try kb.database.prepare(sql)
        saveCheckpoint = try kb.database.prepare(
            """
            UPDATE _timbal_jobs SET checkpoint = ?, rows_landed = rows_landed + ?, batches = batches + ?, updated_at = ?
            WHERE job_id = ?
            """)
    }

    /// Lands a batch atomically: `writeRows` inserts every row through `row(_:)`, then the
    /// checkpoint is recorded. With `sortedByKey` (a keyed table), the rows are staged and written
    /// in key order within the same transaction. Returns how many rows replaced an earlier
    /// version of themselves.
    @discardableResult
    public func land(checkpoint: String?, rows count: Int? = nil, batches: Int = 1, sortedByKey: Bool = false,
                     _ writeRows: (KBRowWriter) throws -> Int) throws -> Int {
        var merged = 0
        do {
            try kb.database.transaction {
                mergedInBatch = 0
                let rows: Int
                if sortedByKey && keyed {
                    staging = true
                    defer { staging = false }
                    rows = try writeRows(self)
                    staging = false
                    try drainStage()
                } else {
                    rows = try writeRows(self)
                }
                merged = mergedInBatch
                try saveCheckpoint.run([checkpoint.map { .text($0) } ?? .null, .integer(Int64(count ?? rows)), .integer(Int64(batches)),
                                        .text(utcTimestamp()), .text(jobID)])
            }
        } catch {
            try? stage?.discard()
            throw error
        }
        try kb.boundWAL()
        return merged
    }

    /// Rows staged by `stage(_:)` and not yet written by `flushStaged`.
    public var stagedRows: Int { stage?.rows ?? 0 }

    /// Adds rows to the stage (a keyed table's rows in any order) without touching the table:
    /// `flushStaged` writes them in key order with a checkpoint. Staged rows live in a TEMP table
    /// of this connection; a crash loses them with their checkpoint, which was never committed.
    public func stage(_ writeRows: (KBRowWriter) throws -> Int) throws -> Int {
        guard keyed else { throw KBError(field: "key_columns", problem: "rows are staged only for a table with a key (a bug in the caller)") }
        if stage == nil { stage = try KBStage(kb: kb, table: target.table, columns: columns, mergeKey: target.mergeKey) }
        // A transaction that writes only the TEMP table takes no lock on the KB file.
        try kb.database.execute("BEGIN")
        staging = true
        defer { staging = false }
        do {
            let rows = try writeRows(self)
            try kb.database.execute("COMMIT")
            return rows
        } catch {
            try? kb.database.execute("ROLLBACK")
            // The run fails with this error: what it staged goes with it (its checkpoint was never committed).
            try? stage?.discard()
            throw error
        }
    }

    /// Writes the staged rows into the table in key order and commits `checkpoint` with them, as
    /// one transaction covering `batches` batches; returns the rows that replaced an earlier version.
    @discardableResult
    public func flushStaged(checkpoint: String?, batches: Int) throws -> Int {
        let rows = stagedRows
        return try land(checkpoint: checkpoint, rows: rows, batches: batches) { writer in
            try writer.drainStage()
            return rows
        }
    }

    /// `KBFile.walFlushBytes`; tests lower it.
    var walFlushBytes = KBFile.walFlushBytes

    /// Writes the staged rows in key order. A flush that has made the WAL file larger than
    /// `walFlushBytes` commits what it has written so far, without the checkpoint, restarts the
    /// WAL, and goes on in a new transaction: however many rows are
    /// staged, the WAL stays bounded. Rows committed ahead of their checkpoint are read again by
    /// a run that resumes after a crash, and merged by key again: the table ends the same.
    private func drainStage() throws {
        guard let stage else { return }
        try stage.drain({ bind in try self.row(bind) }, between: {
            guard kb.walBytes > walFlushBytes else { return }
            try kb.database.execute("COMMIT")
            try kb.restartWAL()
            try kb.database.execute("BEGIN IMMEDIATE")
        })
    }

    private var mergedInBatch = 0

    /// Whether the table has a key to merge on (and so can stage rows).
    public var isKeyed: Bool { keyed }

    /// Writes one row: `bind` binds its cells into the statement it is given (called once for
    /// the insert, and again for the update when the key was there).
    public func row(_ bind: (SQLiteStatement) throws -> Void) throws {
        if staging {
            if stage == nil { stage = try KBStage(kb: kb, table: target.table, columns: columns, mergeKey: target.mergeKey) }
            try stage!.add(bind)
            return
        }
        try bind(insert)
        try insert.run()
        guard keyed, kb.database.changes == 0 else { return }
        mergedInBatch += 1
        if let update {
            try bind(update)
            try update.run()
        }
    }
}
