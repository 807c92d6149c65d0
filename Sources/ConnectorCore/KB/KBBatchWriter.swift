import PostgresClient
import SQLiteStore

/// Lands batches in the KB: the rows and the job's checkpoint in one SQLite transaction, so a
/// crash at any instant leaves the table at a batch boundary with the matching checkpoint.
final class KBBatchWriter {
    private let kb: LocalKB
    private let insert: SQLiteStatement
    /// Set when the table has a key: a row whose key is already there replaces it.
    private let update: SQLiteStatement?
    private let saveCheckpoint: SQLiteStatement
    private let kinds: [ColumnKind]
    private let jobID: String
    private var blob: [UInt8] = []
    private let timestamp = UnsafeMutablePointer<UInt8>.allocate(capacity: 32)
    private let nanText: StaticString = "NaN"

    /// Every mode merges on `mergeKey` when the table has one: the insert skips a row whose key is
    /// there, and the update (same numbered parameters) then replaces it, so merges are counted.
    init(kb: LocalKB, table: String, plan: ExtractPlan, mergeKey: [String], jobID: String) throws {
        self.kb = kb
        self.jobID = jobID
        kinds = plan.projection.map(\.kind)
        let names = plan.projection.map { SQLIdentifier.quote($0.name) }
        let quotedTable = SQLIdentifier.quote(table)
        var sql = "INSERT INTO \(quotedTable) (\(names.joined(separator: ", "))) VALUES ("
            + (1...names.count).map { "?\($0)" }.joined(separator: ", ") + ")"
        if mergeKey.isEmpty {
            update = nil
        } else {
            sql += " ON CONFLICT (\(mergeKey.map { SQLIdentifier.quote($0) }.joined(separator: ", "))) DO NOTHING"
            let position = { (name: String) in plan.projection.firstIndex { $0.name == name }! + 1 }
            let assignments = plan.projection.filter { !mergeKey.contains($0.name) }
                .map { "\(SQLIdentifier.quote($0.name)) = ?\(position($0.name))" }
            let match = mergeKey.map { "\(SQLIdentifier.quote($0)) = ?\(position($0))" }.joined(separator: " AND ")
            update = assignments.isEmpty ? nil
                : try kb.database.prepare("UPDATE \(quotedTable) SET \(assignments.joined(separator: ", ")) WHERE \(match)")
        }
        insert = try kb.database.prepare(sql)
        saveCheckpoint = try kb.database.prepare(
            """
            UPDATE _timbal_jobs SET checkpoint = ?, rows_landed = rows_landed + ?, batches = batches + 1, updated_at = ?
            WHERE job_id = ?
            """)
    }

    deinit { timestamp.deallocate() }

    /// Inserts (or merges) the batch's rows and records `checkpoint`, atomically; returns how
    /// many rows replaced an earlier version of themselves.
    @discardableResult
    func land(_ result: PostgresResult, checkpoint: Checkpoint?) throws -> Int {
        let rows = result.rowCount
        var merged = 0
        try kb.database.transaction {
            for row in 0..<rows {
                try bindRow(result, row, into: insert)
                try insert.run()
                if kb.database.changes == 0 {
                    merged += 1
                    if let update {
                        try bindRow(result, row, into: update)
                        try update.run()
                    }
                }
            }
            try saveCheckpoint.bind(checkpoint.map { .text($0.json.serialized()) } ?? .null, at: 1)
            try saveCheckpoint.bind(.integer(Int64(rows)), at: 2)
            try saveCheckpoint.bind(.text(utcTimestamp()), at: 3)
            try saveCheckpoint.bind(.text(jobID), at: 4)
            try saveCheckpoint.run()
        }
        return merged
    }

    private func bindRow(_ result: PostgresResult, _ row: Int, into insert: SQLiteStatement) throws {
        for (column, kind) in kinds.enumerated() {
            let index = column + 1
            guard let cell = result.bytes(row, column) else {
                try insert.bindNull(at: index)
                continue
            }
            switch kind {
            case .integer:
                if let value = CellText.int64(cell) { try insert.bindInteger(value, at: index) }
                else { try insert.bindTextNoCopy(cell, at: index) }
            case .boolean:
                try insert.bindInteger(cell.first == UInt8(ascii: "t") ? 1 : 0, at: index)
            case .real:
                // libpq's cells are NUL-terminated, so strtod can read them in place.
                let value = strtod(UnsafeRawPointer(cell.baseAddress!).assumingMemoryBound(to: CChar.self), nil)
                if value.isNaN { try insert.bindTextNoCopy(cell, at: index) } else { try insert.bindReal(value, at: index) }
            case .bytea:
                if CellText.byteaHex(cell, into: &blob) {
                    try blob.withUnsafeBytes { try insert.bindBlob($0, at: index) }
                } else {
                    try insert.bindTextNoCopy(cell, at: index)
                }
            case .timestamp, .timestamptz:
                if let length = CellText.isoTimestamp(cell, withZone: kind == .timestamptz, into: timestamp) {
                    try insert.bindTextCopy(UnsafeBufferPointer(start: timestamp, count: length), at: index)
                } else {
                    try insert.bindTextNoCopy(cell, at: index)
                }
            case .numeric, .array, .text:
                try insert.bindTextNoCopy(cell, at: index)
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
