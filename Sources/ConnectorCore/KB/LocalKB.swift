import FoundationEssentials
import SQLiteStore

/// One local knowledge base: `<state-dir>/kb/<kb_id>.sqlite`, in WAL mode, holding the extracted
/// tables and `_timbal_jobs`, the checkpoint of every job that wrote into it.
public final class LocalKB {
    public let database: SQLiteDatabase
    public let kbID: Int64

    public static func path(stateDir: String, kbID: Int64) -> String {
        "\(stateDir)/kb/\(kbID).sqlite"
    }

    /// `<state-dir>/locks`, created 0700.
    static func lockDirectory(stateDir: String) throws -> String {
        let directory = "\(stateDir)/locks"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw KBError(field: "state-dir", problem: "cannot create \(directory): \(error)")
        }
        return directory
    }

    public init(stateDir: String, kbID: Int64) throws {
        let directory = "\(stateDir)/kb"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw KBError(field: "state-dir", problem: "cannot create \(directory): \(error)")
        }
        self.kbID = kbID
        database = try SQLiteDatabase.openWAL(path: Self.path(stateDir: stateDir, kbID: kbID))
        try database.execute(
            """
            CREATE TABLE IF NOT EXISTS _timbal_jobs (
                job_id TEXT PRIMARY KEY,
                dest_table TEXT NOT NULL,
                target_table TEXT NOT NULL,
                mode TEXT NOT NULL,
                state TEXT NOT NULL,
                checkpoint TEXT,
                rows_landed INTEGER NOT NULL DEFAULT 0,
                batches INTEGER NOT NULL DEFAULT 0,
                started_at TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                finished_at TEXT
            );
            CREATE TABLE IF NOT EXISTS _timbal_columns (
                table_name TEXT NOT NULL,
                position INTEGER NOT NULL,
                column_name TEXT NOT NULL,
                source_type TEXT NOT NULL,
                kb_type TEXT NOT NULL,
                PRIMARY KEY (table_name, position)
            );
            """)
    }

    /// What `_timbal_jobs` remembers of one job.
    public struct JobRecord: Sendable {
        public var jobID: String
        public var destTable: String
        public var targetTable: String
        public var mode: String
        public var state: String
        public var checkpoint: Checkpoint?
        public var rowsLanded: Int64
        public var batches: Int64
    }

    public func jobRecord(_ jobID: String) throws -> JobRecord? {
        let rows = try database.rows(
            "SELECT dest_table, target_table, mode, state, checkpoint, rows_landed, batches FROM _timbal_jobs WHERE job_id = ?",
            [.text(jobID)])
        guard let row = rows.first else { return nil }
        let checkpoint = try row[4].text.map { try Checkpoint.decode(json: $0, field: "checkpoint") }
        func integer(_ value: SQLiteValue) -> Int64 { if case .integer(let v) = value { return v }; return 0 }
        return JobRecord(jobID: jobID, destTable: row[0].text ?? "", targetTable: row[1].text ?? "",
                         mode: row[2].text ?? "", state: row[3].text ?? "", checkpoint: checkpoint,
                         rowsLanded: integer(row[5]), batches: integer(row[6]))
    }

    public func tableExists(_ name: String) throws -> Bool {
        try !database.rows("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?", [.text(name)]).isEmpty
    }

    /// Column names of a KB table, in order.
    public func columnNames(of table: String) throws -> [String] {
        try database.rows("SELECT name FROM pragma_table_info(?) ORDER BY cid", [.text(table)]).compactMap { $0[0].text }
    }

}
