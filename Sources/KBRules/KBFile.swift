import SQLiteStore
import TimbalSupport

/// One KB file (local `<state-dir>/kb/<id>.sqlite`, or one of the plane's hosted KBs), in WAL mode:
/// the extracted tables plus the bookkeeping both placements share, `_timbal_jobs` (each job's
/// target table, state, rows and last checkpoint) and `_timbal_columns` (each column's source type).
public final class KBFile {
    public let database: SQLiteDatabase
    public let kbID: Int64
    /// How messages name this KB: `KB 42` or `hosted KB 42`.
    public let label: String

    public init(path: String, kbID: Int64, label: String) throws {
        self.kbID = kbID
        self.label = label
        database = try SQLiteDatabase.openWAL(path: path, pageSize: SQLiteDatabase.kbPageSize)
        try database.execute("PRAGMA journal_size_limit = \(Self.walKeptBytes)")
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
                source_table TEXT,
                source_number INTEGER,
                PRIMARY KEY (table_name, position)
            );
            """)
        // KB files made before the source columns' numbers were recorded get the columns (the
        // numbers are filled in by the next run of each table: KBSchemaCheck). Looked for again
        // in a write transaction, so that two processes opening such a file at once add them once.
        let added = [("source_table", "TEXT"), ("source_number", "INTEGER")]
        func missing() throws -> [(String, String)] {
            let present = Set(try database.rows("SELECT name FROM pragma_table_info('_timbal_columns')").compactMap { $0[0].text })
            return added.filter { !present.contains($0.0) }
        }
        if try !missing().isEmpty {
            try database.transaction {
                for (column, type) in try missing() {
                    try database.execute("ALTER TABLE _timbal_columns ADD COLUMN \(column) \(type)")
                }
            }
        }
    }

    /// What `_timbal_jobs` remembers of one job.
    public struct JobRecord: Sendable {
        public var jobID: String
        public var destTable: String
        public var targetTable: String
        public var mode: String
        public var state: String
        /// The checkpoint's JSON text, as the job committed it.
        public var checkpoint: String?
        public var rowsLanded: Int64
        public var batches: Int64
    }

    public func jobRecord(_ jobID: String) throws -> JobRecord? {
        let rows = try database.rows(
            "SELECT dest_table, target_table, mode, state, checkpoint, rows_landed, batches FROM _timbal_jobs WHERE job_id = ?",
            [.text(jobID)])
        guard let row = rows.first else { return nil }
        func integer(_ value: SQLiteValue) -> Int64 { if case .integer(let v) = value { return v }; return 0 }
        return JobRecord(jobID: jobID, destTable: row[0].text ?? "", targetTable: row[1].text ?? "",
                         mode: row[2].text ?? "", state: row[3].text ?? "", checkpoint: row[4].text,
                         rowsLanded: integer(row[5]), batches: integer(row[6]))
    }

    public func tableExists(_ name: String) throws -> Bool {
        try !database.rows("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?", [.text(name)]).isEmpty
    }

    /// Column names of a KB table, in order.
    public func columnNames(of table: String) throws -> [String] {
        try database.rows("SELECT name FROM pragma_table_info(?) ORDER BY cid", [.text(table)]).compactMap { $0[0].text }
    }

    /// Records that `jobID` writes into `target` (first run) or runs again (later runs).
    func register(jobID: String, dest: String, target: String, mode: String, fresh: Bool, startsOver: Bool = false) throws {
        let now = utcTimestamp()
        if !fresh && startsOver {
            // Its earlier rows were in a staging table this run rebuilds: they no longer count.
            try run("UPDATE _timbal_jobs SET rows_landed = 0, batches = 0, checkpoint = NULL WHERE job_id = ?", [jobID])
        }
        if fresh {
            try run("""
                INSERT INTO _timbal_jobs (job_id, dest_table, target_table, mode, state, started_at, updated_at)
                VALUES (?, ?, ?, ?, 'running', ?, ?)
                """, [jobID, dest, target, mode, now, now])
        } else {
            try run("UPDATE _timbal_jobs SET state = 'running', target_table = ?, updated_at = ?, finished_at = NULL WHERE job_id = ?",
                    [target, now, jobID])
        }
    }

    /// The state of a job whose empty table a later create job took over.
    static let abandoned = "abandoned"

    /// True when `table` holds no row and was built only by jobs that never completed nor landed
    /// a row (a create job that failed or was killed after building it).
    func isEmptyTableOfUnfinishedJobs(_ table: String) throws -> Bool {
        let builders = try database.rows(
            "SELECT count(*), count(*) FILTER (WHERE state = 'completed' OR rows_landed > 0) FROM _timbal_jobs WHERE target_table = ?",
            [.text(table)])
        guard case .integer(let jobs)? = builders.first?[0], case .integer(let landed)? = builders.first?[1],
              jobs > 0, landed == 0 else { return false }
        return try database.rows("SELECT 1 FROM \(SQLIdentifier.quote(table)) LIMIT 1").isEmpty
    }

    /// Drops an empty table left by unfinished jobs, so `jobID` can build it anew.
    func abandonTable(_ table: String, takenOverBy jobID: String) throws {
        try database.execute("DROP TABLE \(SQLIdentifier.quote(table))", [])
        try run("DELETE FROM _timbal_columns WHERE table_name = ?", [table])
        try run("UPDATE _timbal_jobs SET state = ?, updated_at = ? WHERE target_table = ? AND job_id <> ?",
                [Self.abandoned, utcTimestamp(), table, jobID])
    }

    /// Records how a run of `jobID` ended and which table now holds its rows.
    public func finishJob(_ jobID: String, state: String, table: String) throws {
        let now = utcTimestamp()
        try run("UPDATE _timbal_jobs SET state = ?, target_table = ?, updated_at = ?, finished_at = ? WHERE job_id = ?",
                [state, table, now, now, jobID])
    }

    private func run(_ sql: String, _ values: [String]) throws {
        let statement = try database.prepare(sql)
        try statement.run(values.map(SQLiteValue.text))
    }
}
