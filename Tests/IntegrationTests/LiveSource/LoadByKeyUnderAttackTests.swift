import ConnectorCore
import Foundation
import PostgresClient
import SQLiteStore
import Testing

/// A first load by key while the world moves under it: DDL from another session in the middle
/// of the load, and a second connector process racing the first for the same job and table.
@Suite("Load by key under attack", .enabled(if: TestDatabase.isAvailable, TestDatabase.skipReason), .serialized)
struct LoadByKeyUnderAttackTests {
    /// Rows whose `updated_at` has no relation to `id`: a whole-table read loads by key.
    func seed(_ scratch: Scratch, rows: Int = 20_000) throws {
        try scratch.sql("""
            CREATE TABLE {s}.d (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL, v text, amount int, note text);
            INSERT INTO {s}.d SELECT g, '2026-01-01'::timestamptz + random() * interval '300 days', 'v1', g, 'n' || g
            FROM generate_series(1, \(rows)) g;
            CREATE INDEX ON {s}.d (updated_at, id);
            ANALYZE {s}.d;
            """)
    }

    /// Every row as `id|v|amount|note` (the columns the source still has, in `columns`), by id.
    func contents(_ scratch: Scratch, columns: [String]) throws -> (source: [String], kb: [String]) {
        let list = columns.map { SQLIdentifier.quote($0) }.joined(separator: ", ")
        let result = try scratch.sql("SELECT \(list) FROM {s}.d ORDER BY id")
        let source = (0..<result.rowCount).map { row in
            columns.indices.map { result.string(row, $0) ?? "NULL" }.joined(separator: "|")
        }
        let kb = try scratch.kb().rows("SELECT \(list) FROM d ORDER BY id").map { row in
            row.map { value -> String in
                switch value {
                case .null: return "NULL"
                case .integer(let number): return String(number)
                case .text(let text): return text
                default: return "\(value)"
                }
            }.joined(separator: "|")
        }
        return (source, kb)
    }

    /// DDL run from another session while the load by key is halfway through.
    enum Change: String, CaseIterable, CustomStringConvertible {
        case addColumn, retypeColumn, dropColumn, dropAndAddAgain, swapNames

        var sql: String {
            switch self {
            case .addColumn: "ALTER TABLE {s}.d ADD COLUMN region text DEFAULT 'eu'"
            case .retypeColumn: "ALTER TABLE {s}.d ALTER COLUMN amount TYPE bigint"
            case .dropColumn: "ALTER TABLE {s}.d DROP COLUMN note"
            // Same name, same type, another column: every value of it is now NULL at the source.
            case .dropAndAddAgain: "ALTER TABLE {s}.d DROP COLUMN note; ALTER TABLE {s}.d ADD COLUMN note text"
            // Same names, same types, the values swapped.
            case .swapNames: "BEGIN; ALTER TABLE {s}.d RENAME v TO tmp; ALTER TABLE {s}.d RENAME note TO v; ALTER TABLE {s}.d RENAME tmp TO note; COMMIT"
            }
        }

        /// What the failure must say (docs/extraction.md, "Source schema changes"); nil: the run adapts.
        var failureNames: [String]? {
            switch self {
            case .addColumn: nil
            case .retypeColumn: ["\"amount\"", "integer", "bigint"]
            case .dropColumn, .dropAndAddAgain: ["\"note\"", "dropped"]
            case .swapNames: ["\"v\"", "dropped"]
            }
        }

        /// The columns both sides have once the change is made.
        var columnsAfter: [String] {
            switch self {
            case .dropColumn: ["id", "v", "amount"]
            default: ["id", "v", "amount", "note"]
            }
        }

        var description: String { rawValue }
    }

    /// An added column is followed (by the next run); a column dropped, retyped or renamed under
    /// the load fails it at the next segment naming the column, with only whole batches landed,
    /// each the source's row as it was, and the checkpoint saying exactly where; `replace` then
    /// rebuilds the KB table equal to the source.
    @Test(arguments: Change.allCases)
    func ddlDuringAFirstLoadByKeyFailsByNameOrIsFollowedAndLosesNothing(change: Change) throws {
        let scratch = try Scratch()
        try seed(scratch, rows: 10_000)
        let ddl = try TestDatabase.connect()
        let spec = scratch.spec(table: "d", batchRows: 500, mode: .append)
        var step = 0
        var changedAfter: Int64?
        var failure: Error?
        var result: ExtractResult?
        do {
            result = try scratch.extractor(spec, jobID: "ddl").run { progress in
                guard let keyPass = progress.checkpoint?.keyPass, let last = keyPass.first.flatMap({ Int64($0.value) }) else { return }
                step += 1
                guard step == 2 else { return }
                changedAfter = last
                do { _ = try ddl.execute(change.sql.replacingOccurrences(of: "{s}", with: SQLIdentifier.quote(scratch.schema))) }
                catch { Issue.record("the DDL failed: \(error)") }
            }
        } catch {
            failure = error
        }
        let before = try #require(changedAfter, "the DDL ran during the load by key")
        #expect(before < 10_000)
        let record = try #require(try LocalKB(stateDir: scratch.stateDir, kbID: 1).jobRecord("ddl"))

        guard let names = change.failureNames else {
            // Followed: the load and its catch-up complete; the next run adds the column.
            #expect(failure == nil, "\(failure.map { "\($0)" } ?? "")")
            #expect(result?.state == .completed && (result?.keyOrderRows ?? 0) >= 10_000)
            try scratch.sql("UPDATE {s}.d SET v = 'v2', region = 'us', updated_at = now() WHERE id = 7")
            #expect(try scratch.extract(spec, jobID: "ddl").state == .completed)
            let (source, kb) = try contents(scratch, columns: change.columnsAfter)
            #expect(source.count == 10_000 && kb == source)
            // NULL for the rows read before the column existed, the source's value for a row read after.
            #expect(try scratch.kb().rows("SELECT id, region FROM d WHERE id IN (6, 7) ORDER BY id") == [[.integer(6), .null], [.integer(7), .text("us")]])
            return
        }
        let error = try #require(failure, "the run went on past a \(change)")
        for name in names { #expect("\(error)".contains(name), "\(error)") }
        // Whole batches, the checkpoint says which, and each row is the source's row as it was.
        let keyPass = try #require(record.checkpoint?.keyPass)
        let last = try #require(keyPass.first.flatMap { Int64($0.value) })
        #expect(record.state != "completed")
        #expect(last >= before && last < 10_000)
        #expect(record.rowsLanded == last)
        #expect(try scratch.kb().rows("SELECT count(*), min(id), max(id) FROM d").first == [.integer(last), .integer(1), .integer(last)])
        #expect(try scratch.kb().rows("SELECT count(*) FROM d WHERE v IS NOT 'v1' OR amount IS NOT id OR note IS NOT 'n' || id") == [[.integer(0)]])
        if change == .retypeColumn || change == .dropColumn {
            // The job again: refused by name before anything is written.
            #expect { try scratch.extract(spec, jobID: "ddl") } throws: { error in names.allSatisfy { "\(error)".contains($0) } }
            #expect(try LocalKB(stateDir: scratch.stateDir, kbID: 1).jobRecord("ddl")?.rowsLanded == last)
        }
        // Rebuilt with replace (what the message tells the operator): every source row once.
        let rebuilt = try scratch.extract(scratch.spec(table: "d", batchRows: 500, mode: .replace), jobID: "rebuild")
        #expect(rebuilt.state == .completed)
        let (source, kb) = try contents(scratch, columns: change.columnsAfter)
        #expect(source.count == 10_000 && kb == source)
    }

    /// Who races: the same job id twice, two jobs writing one KB table, or six such jobs (six
    /// processes setting up one new KB file at once).
    enum Race: String, CaseIterable, CustomStringConvertible {
        case sameJob, sameTable, sixJobsOneTable
        var jobIDs: [String] {
            switch self {
            case .sameJob: ["racer", "racer"]
            case .sameTable: ["racer-0", "racer-1"]
            case .sixJobsOneTable: (0..<6).map { "racer-\($0)" }
            }
        }
        var description: String { rawValue }
    }

    /// `timbal-connector extract` processes started at the same moment on one load by key: one
    /// writes, every other fails at once naming the holder (docs/extraction.md, "One writer"),
    /// and the KB ends equal to the source, every row once.
    @Test(arguments: Race.allCases)
    func processesRacingForALoadByKeyLetExactlyOneWrite(race: Race) throws {
        let scratch = try Scratch()
        try seed(scratch)
        // Paced (about 2 s), so the winner is still loading when the others get going.
        let job = """
            {"kb_id": 1, "dest_table": "d", "batch_rows": 1000, "placement": "local", "mode": "append",
             "pacing": {"max_rows_per_sec": 10000},
             "source": {"kind": "postgres", "connection_ref": "pg", "schema": "\(scratch.schema)", "table": "d", "cursor_column": "updated_at"}}
            """
        try job.write(toFile: "\(scratch.stateDir)/job.json", atomically: true, encoding: .utf8)
        try #"{"pg": {"kind": "postgres", "dsn": "\#(TestDatabase.dsn)"}}"#.write(toFile: "\(scratch.stateDir)/connections.json", atomically: true, encoding: .utf8)
        let ids = race.jobIDs
        let processes = try ids.indices.map { index in
            try ConnectorBinary.start(["extract", "--job", "\(scratch.stateDir)/job.json", "--connections", "\(scratch.stateDir)/connections.json",
                                       "--state-dir", scratch.stateDir, "--job-id", ids[index]], logDirectory: scratch.stateDir, name: "p\(index)")
        }
        for process in processes { process.waitUntilExit() }
        let outcomes = try processes.indices.map { index in
            (status: processes[index].terminationStatus, pid: processes[index].processIdentifier,
             out: try String(contentsOfFile: "\(scratch.stateDir)/p\(index).out", encoding: .utf8),
             err: try String(contentsOfFile: "\(scratch.stateDir)/p\(index).err", encoding: .utf8))
        }
        let winners = outcomes.indices.filter { outcomes[$0].status == 0 }
        #expect(winners.count == 1, "\(outcomes)")
        guard winners.count == 1 else { return }
        let winner = winners[0]
        let expected = race == .sameJob
            ? "job racer is already running (job=racer pid=\(outcomes[winner].pid))"
            : "\"d\" in KB 1 is being written by another job (job=\(ids[winner]) dest_table=d pid=\(outcomes[winner].pid))"
        for loser in outcomes.indices where loser != winner {
            #expect(outcomes[loser].status == 1)
            #expect(outcomes[loser].err.contains(expected), "\(outcomes[loser].err)")
        }
        #expect(outcomes[winner].out.contains("key_order_rows=20000"), "\(outcomes[winner].out)")
        // The others wrote nothing: no rows under their names, and the winner's record is whole.
        let kb = try scratch.kb()
        #expect(try kb.rows("SELECT state, rows_landed >= 20000 FROM _timbal_jobs WHERE job_id = ?", [.text(ids[winner])]) == [[.text("completed"), .integer(1)]])
        #expect(try kb.rows("SELECT coalesce(sum(rows_landed), 0) FROM _timbal_jobs WHERE job_id <> ?", [.text(ids[winner])]) == [[.integer(0)]])
        #expect(try kb.rows("SELECT count(*), count(DISTINCT id) FROM d").first == [.integer(20_000), .integer(20_000)])
        let (source, copied) = try contents(scratch, columns: ["id", "v", "amount", "note"])
        #expect(copied == source)
    }
}
