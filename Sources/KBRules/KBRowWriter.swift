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

    public init(kb: KBFile, target: KBTarget, columns: [String], jobID: String) throws {
        self.kb = kb
        self.jobID = jobID
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
            UPDATE _timbal_jobs SET checkpoint = ?, rows_landed = rows_landed + ?, batches = batches + 1, updated_at = ?
            WHERE job_id = ?
            """)
    }

    /// Lands a batch atomically: `writeRows` inserts every row through `row(_:)`, then the
    /// checkpoint is recorded. Returns how many rows replaced an earlier version of themselves.
    @discardableResult
    public func land(checkpoint: String?, rows count: Int? = nil, _ writeRows: (KBRowWriter) throws -> Int) throws -> Int {
        var merged = 0
        try kb.database.transaction {
            mergedInBatch = 0
            let rows = try writeRows(self)
            merged = mergedInBatch
            try saveCheckpoint.run([checkpoint.map { .text($0) } ?? .null, .integer(Int64(count ?? rows)), .text(utcTimestamp()), .text(jobID)])
        }
        return merged
    }

    private var mergedInBatch = 0

    /// Writes one row: `bind` binds its cells into the statement it is given (called once for
    /// the insert, and again for the update when the key was there).
    public func row(_ bind: (SQLiteStatement) throws -> Void) throws {
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
