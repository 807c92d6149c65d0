import ChannelProtocol
import ConnectorCore
import Foundation
import SQLiteStore

/// The plane's hosted KBs: one SQLite file per kb_id in `<data-dir>/kb/`. Each batch lands in one
/// transaction together with its `(job_id, seq)` in `_timbal_batches`, so a resent batch lands once.
public final class HostedKBs: @unchecked Sendable {
    private let directory: String
    private let lock = Condition()
    private var open: [Int64: SQLiteDatabase] = [:]

    public init(dataDir: String) throws {
        directory = dataDir + "/kb"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    public func path(kbID: Int64) -> String { "\(directory)/\(kbID).sqlite" }

    private func database(_ kbID: Int64) throws -> SQLiteDatabase {
        if let existing = open[kbID] { return existing }
        let database = try SQLiteDatabase.openWAL(path: path(kbID: kbID))
        try database.execute(
            """
            CREATE TABLE IF NOT EXISTS _timbal_batches (
                job_id TEXT NOT NULL, seq INTEGER NOT NULL, rows INTEGER NOT NULL, checkpoint TEXT, landed_at TEXT NOT NULL,
                PRIMARY KEY (job_id, seq))
            """)
        open[kbID] = database
        return database
    }

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
    @discardableResult
    /// `rows` is the message's raw `rows` JSON (`bytes[range]`), streamed into SQLite by `RowsLander`.
    public func land(_ batch: HostedBatch, bytes: [UInt8], rows range: Range<Int>) throws -> Bool {
        try lock.withLock {
            let db = try database(batch.kbID)
            return try db.transaction {
                if try !db.rows("SELECT 1 FROM _timbal_batches WHERE job_id = ? AND seq = ?", [.text(batch.jobID), .integer(batch.seq)]).isEmpty {
                    return false
                }
                let firstOfJob = try db.rows("SELECT 1 FROM _timbal_batches WHERE job_id = ? LIMIT 1", [.text(batch.jobID)]).isEmpty
                let table = try prepareTable(db, batch, firstOfJob: firstOfJob)
                let count = try insert(db, batch, bytes: bytes, rows: range, into: table)
                if batch.final, table != batch.destTable {
                    try db.execute("DROP TABLE IF EXISTS \(SQLIdentifier.quote(batch.destTable))")
                    try db.execute("ALTER TABLE \(SQLIdentifier.quote(table)) RENAME TO \(SQLIdentifier.quote(batch.destTable))")
                }
                let record = try db.prepare("INSERT INTO _timbal_batches (job_id, seq, rows, checkpoint, landed_at) VALUES (?, ?, ?, ?, ?)")
                try record.bind(.text(batch.jobID), at: 1)
                try record.bind(.integer(batch.seq), at: 2)
                try record.bind(.integer(Int64(count)), at: 3)
                try record.bind(batch.checkpoint.map { .text($0.serialized()) } ?? .null, at: 4)
                try record.bind(.text(PlaneStore.timestamp()), at: 5)
                try record.run()
                return true
            }
        }
    }

    private func tableExists(_ db: SQLiteDatabase, _ name: String) throws -> Bool {
        try !db.rows("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?", [.text(name)]).isEmpty
    }

    private func prepareTable(_ db: SQLiteDatabase, _ batch: HostedBatch, firstOfJob: Bool) throws -> String {
        var table = batch.destTable
        if batch.mode == "replace" {
            table = KBTarget.stagingName(jobID: batch.jobID, destTable: batch.destTable)
            if firstOfJob { try db.execute("DROP TABLE IF EXISTS \(SQLIdentifier.quote(table))") }
            if !firstOfJob, try !tableExists(db, table) { return batch.destTable }  // swapped already
        } else if batch.mode == "create", firstOfJob, try tableExists(db, table) {
            throw KBError(field: "dest_table", problem: "table \"\(table)\" already exists in hosted KB \(batch.kbID) (mode create)")
        }
        if try !tableExists(db, table) {
            var definitions = batch.columns.map { "\(SQLIdentifier.quote($0.name)) \($0.kbType)" }
            if !batch.keyColumns.isEmpty {
                definitions.append("PRIMARY KEY (" + batch.keyColumns.map { SQLIdentifier.quote($0) }.joined(separator: ", ") + ")")
            }
            try db.execute("CREATE TABLE \(SQLIdentifier.quote(table)) (\(definitions.joined(separator: ", ")))")
        }
        return table
    }

    private func hasKey(_ db: SQLiteDatabase, _ table: String, _ keys: [String]) throws -> Bool {
        let primaryKey = try db.rows("SELECT name FROM pragma_table_info(?) WHERE pk > 0", [.text(table)]).compactMap { $0[0].text }
        if Set(primaryKey) == Set(keys) { return true }
        for index in try db.rows("SELECT name FROM pragma_index_list(?) WHERE \"unique\" = 1", [.text(table)]) {
            guard let name = index[0].text else { continue }
            let columns = try db.rows("SELECT name FROM pragma_index_info(?)", [.text(name)]).compactMap { $0[0].text }
            if Set(columns) == Set(keys) { return true }
        }
        return false
    }

    private func insert(_ db: SQLiteDatabase, _ batch: HostedBatch, bytes: [UInt8], rows range: Range<Int>, into table: String) throws -> Int {
        let names = batch.columns.map { SQLIdentifier.quote($0.name) }
        var sql = "INSERT INTO \(SQLIdentifier.quote(table)) (\(names.joined(separator: ", "))) VALUES ("
            + Array(repeating: "?", count: names.count).joined(separator: ", ") + ")"
        if !batch.keyColumns.isEmpty, try hasKey(db, table, batch.keyColumns) {
            // Every mode merges a re-read row by the job's key, as local KBs do.
            let updates = batch.columns.filter { !batch.keyColumns.contains($0.name) }
                .map { "\(SQLIdentifier.quote($0.name)) = excluded.\(SQLIdentifier.quote($0.name))" }
            sql += " ON CONFLICT (" + batch.keyColumns.map { SQLIdentifier.quote($0) }.joined(separator: ", ") + ") DO "
                + (updates.isEmpty ? "NOTHING" : "UPDATE SET " + updates.joined(separator: ", "))
        }
        let statement = try db.prepare(sql)
        return try RowsLander(bytes: bytes, range: range, kbTypes: batch.columns.map(\.kbType)).land(into: statement)
    }

    /// Runs a read-only query on a hosted KB: cells as plain JSON, at most `limit` rows.
    public func query(kbID: Int64, sql: String, limit: Int = 10_000) throws -> JSONValue {
        guard FileManager.default.fileExists(atPath: path(kbID: kbID)) else {
            throw KBError(field: "kb_id", problem: "hosted KB \(kbID) has no data yet")
        }
        let db = try SQLiteDatabase(path: path(kbID: kbID), readOnly: true)
        let statement = try db.prepare(sql)
        var rows: [JSONValue] = []
        var truncated = false
        while try statement.step() {
            if rows.count >= limit { truncated = true; break }
            rows.append(.array((0..<statement.columnCount).map { column in
                switch statement.value(at: column) {
                case .null: return .null
                case .integer(let v): return .number(String(v))
                case .real(let v): return v.isFinite ? .number(String(v)) : .string(String(v))
                case .text(let v): return .string(v)
                case .blob(let v): return .string("0x" + v.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined())
                }
            }))
        }
        let columns = (0..<statement.columnCount).map { column in
            JSONValue.object([("name", .string(statement.columnName(at: column))), ("data_type", .string(statement.declaredType(at: column) ?? ""))])
        }
        return .object([("columns", .array(columns)), ("rows", .array(rows)), ("row_count", .number(String(rows.count))),
                        ("truncated", .bool(truncated))])
    }
}
