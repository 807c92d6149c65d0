import PostgresClient
import SQLiteStore

/// Lands batches in the KB: the rows and the job's checkpoint in one SQLite transaction, so a
/// crash at any instant leaves the table at a batch boundary with the matching checkpoint.
final class KBBatchWriter {
    private let kb: LocalKB
    private let insert: SQLiteStatement
    private let saveCheckpoint: SQLiteStatement
    private let kinds: [ColumnKind]
    private let jobID: String
    private var blob: [UInt8] = []
    private let timestamp = UnsafeMutablePointer<UInt8>.allocate(capacity: 32)
    private let nanText: StaticString = "NaN"

    init(kb: LocalKB, table: String, plan: ExtractPlan, mode: JobSpec.Mode, keyColumns: [String], jobID: String) throws {
        self.kb = kb
        self.jobID = jobID
        kinds = plan.projection.map(\.kind)
        let names = plan.projection.map { SQLIdentifier.quote($0.name) }
        var sql = "INSERT INTO \(SQLIdentifier.quote(table)) (\(names.joined(separator: ", "))) VALUES ("
            + Array(repeating: "?", count: names.count).joined(separator: ", ") + ")"
        if mode == .upsert {
            let keys = keyColumns.map { SQLIdentifier.quote($0) }
            let updates = plan.projection.filter { !keyColumns.contains($0.name) }
                .map { "\(SQLIdentifier.quote($0.name)) = excluded.\(SQLIdentifier.quote($0.name))" }
            sql += " ON CONFLICT (\(keys.joined(separator: ", "))) DO "
                + (updates.isEmpty ? "NOTHING" : "UPDATE SET " + updates.joined(separator: ", "))
        }
        insert = try kb.database.prepare(sql)
        saveCheckpoint = try kb.database.prepare(
            """
            UPDATE _timbal_jobs SET checkpoint = ?, rows_landed = rows_landed + ?, batches = batches + 1, updated_at = ?
            WHERE job_id = ?
            """)
    }

    deinit { timestamp.deallocate() }

    /// Inserts the batch's rows and records `checkpoint`, atomically.
    func land(_ result: PostgresResult, checkpoint: Checkpoint?) throws {
        let rows = result.rowCount
        try kb.database.transaction {
            for row in 0..<rows {
                try bindRow(result, row)
                try insert.run()
            }
            try saveCheckpoint.bind(checkpoint.map { .text($0.json.serialized()) } ?? .null, at: 1)
            try saveCheckpoint.bind(.integer(Int64(rows)), at: 2)
            try saveCheckpoint.bind(.text(utcTimestamp()), at: 3)
            try saveCheckpoint.bind(.text(jobID), at: 4)
            try saveCheckpoint.run()
        }
    }

    private func bindRow(_ result: PostgresResult, _ row: Int) throws {
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
