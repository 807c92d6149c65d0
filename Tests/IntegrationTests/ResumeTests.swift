import ConnectorCore
import Foundation
import SQLiteStore
import Testing

@Suite("Crash and resume", .enabled(if: TestDatabase.isAvailable, TestDatabase.skipReason), .serialized)
struct ResumeTests {
    /// Writes the job and connections files for the CLI.
    func files(_ scratch: Scratch, table: String, batchRows: Int, pacing: String = "null") throws -> [String] {
        let job = """
            {"kb_id": 1, "dest_table": "\(table)", "batch_rows": \(batchRows), "placement": "local", "mode": "create",
             "pacing": \(pacing),
             "source": {"kind": "postgres", "connection_ref": "pg", "schema": "\(scratch.schema)", "table": "\(table)", "cursor_column": "updated_at"}}
            """
        try job.write(toFile: "\(scratch.stateDir)/job.json", atomically: true, encoding: .utf8)
        try #"{"pg": {"kind": "postgres", "dsn": "\#(TestDatabase.dsn)"}}"#.write(toFile: "\(scratch.stateDir)/connections.json", atomically: true, encoding: .utf8)
        return ["extract", "--job", "\(scratch.stateDir)/job.json", "--connections", "\(scratch.stateDir)/connections.json",
                "--state-dir", scratch.stateDir, "--job-id", "killme"]
    }

    func seed(_ scratch: Scratch, rows: Int) throws {
        try scratch.sql("""
            CREATE TABLE {s}.events (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL, payload text);
            INSERT INTO {s}.events SELECT g, '2026-01-01'::timestamptz + (g / 4) * interval '1 ms', repeat(md5(g::text), 4)
            FROM generate_series(1, \(rows)) g;
            CREATE INDEX ON {s}.events (updated_at, id);
            """)
    }

    /// Rows landed according to the checkpoint, read by a separate SQLite connection.
    func landed(_ scratch: Scratch) -> Int64? {
        guard let kb = try? SQLiteDatabase(path: LocalKB.path(stateDir: scratch.stateDir, kbID: 1), readOnly: true),
              let rows = try? kb.rows("SELECT rows_landed FROM _timbal_jobs WHERE job_id = 'killme'"),
              case .integer(let count)? = rows.first?.first else { return nil }
        return count
    }

    /// After a kill the table holds exactly the rows its checkpoint says landed, at a batch boundary.
    func expectConsistent(_ scratch: Scratch, batchRows: Int) throws {
        let kb = try scratch.kb()
        let count = try kb.rows("SELECT count(*), count(DISTINCT id) FROM events").first!
        let record = try LocalKB(stateDir: scratch.stateDir, kbID: 1).jobRecord("killme")!
        #expect(count == [.integer(record.rowsLanded), .integer(record.rowsLanded)])
        #expect(record.rowsLanded % Int64(batchRows) == 0)
        if let last = record.checkpoint?.tiebreaker.first?.value {
            #expect(try kb.rows("SELECT max(id) FROM events").first == [.integer(Int64(last)!)])
        }
    }

    @Test func killedMidBatchResumesToAnExactCopy() throws {
        let scratch = try Scratch()
        try seed(scratch, rows: 300_000)
        let arguments = try files(scratch, table: "events", batchRows: 20_000)
        let process = try ConnectorBinary.start(arguments, logDirectory: scratch.stateDir, name: "first")
        let started = waitUntil(seconds: 60) { (landed(scratch) ?? 0) >= 40_000 }
        #expect(started)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)
        try expectConsistent(scratch, batchRows: 20_000)
        #expect((landed(scratch) ?? 0) < 300_000)

        let rerun = try ConnectorBinary.run(arguments, logDirectory: scratch.stateDir, name: "second")
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(rerun.stdout.hasPrefix("completed:"))
        #expect(rerun.stdout.contains("total_rows=300001")) // and the high-water mark's row, read again by the catch-up
        #expect(try scratch.kb().rows("SELECT count(*), count(DISTINCT id), min(id), max(id) FROM events").first
                == [.integer(300_000), .integer(300_000), .integer(1), .integer(300_000)])
    }

    @Test func killedBetweenBatchesResumesToAnExactCopy() throws {
        let scratch = try Scratch()
        try seed(scratch, rows: 2_000)
        // A long pause between batches: the kill lands while no transaction is open.
        let arguments = try files(scratch, table: "events", batchRows: 300, pacing: #"{"batch_delay_ms": 400}"#)
        let process = try ConnectorBinary.start(arguments, logDirectory: scratch.stateDir, name: "first")
        #expect(waitUntil(seconds: 30) { (landed(scratch) ?? 0) >= 600 })
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try expectConsistent(scratch, batchRows: 300)

        let rerun = try ConnectorBinary.run(arguments.filter { $0 != "--log-level" }, logDirectory: scratch.stateDir, name: "second")
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(try scratch.kbIntegers("id", table: "events") == Array(1...2_000))
    }

    @Test func sigtermStopsAtABatchBoundaryAndTheRerunResumes() throws {
        let scratch = try Scratch()
        try seed(scratch, rows: 2_000)
        let arguments = try files(scratch, table: "events", batchRows: 200, pacing: #"{"batch_delay_ms": 300}"#)
        let process = try ConnectorBinary.start(arguments, logDirectory: scratch.stateDir, name: "first")
        #expect(waitUntil(seconds: 30) { (landed(scratch) ?? 0) >= 200 })
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationStatus == 3)
        let summary = try String(contentsOfFile: "\(scratch.stateDir)/first.out", encoding: .utf8)
        #expect(summary.hasPrefix("stopped:"))
        #expect(try LocalKB(stateDir: scratch.stateDir, kbID: 1).jobRecord("killme")?.state == "stopped")
        try expectConsistent(scratch, batchRows: 200)

        let rerun = try ConnectorBinary.run(arguments, logDirectory: scratch.stateDir, name: "second")
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(rerun.stdout.contains("resumed_from="))
        #expect(try scratch.kbIntegers("id", table: "events") == Array(1...2_000))
    }

    @Test func theCLIRefusesHostedJobsAndNamesMissingConnections() throws {
        let scratch = try Scratch()
        try #"{"kb_id": 1, "dest_table": "t", "source": {"kind": "postgres", "connection_ref": "pg", "table": "t"}}"#
            .write(toFile: "\(scratch.stateDir)/hosted.json", atomically: true, encoding: .utf8)
        try #"{"kb_id": 1, "dest_table": "t", "placement": "local", "source": {"kind": "postgres", "connection_ref": "crm", "table": "t"}}"#
            .write(toFile: "\(scratch.stateDir)/local.json", atomically: true, encoding: .utf8)
        try #"{"pg": {"dsn": "postgresql://u:topsecret@127.0.0.1:1/x"}}"#.write(toFile: "\(scratch.stateDir)/c.json", atomically: true, encoding: .utf8)
        let common = ["--connections", "\(scratch.stateDir)/c.json", "--state-dir", scratch.stateDir]
        let hosted = try ConnectorBinary.run(["extract", "--job", "\(scratch.stateDir)/hosted.json"] + common, logDirectory: scratch.stateDir, name: "hosted")
        #expect(hosted.status == 1)
        #expect(hosted.stderr.contains("error: placement: \"hosted\""))
        let missing = try ConnectorBinary.run(["extract", "--job", "\(scratch.stateDir)/local.json"] + common, logDirectory: scratch.stateDir, name: "missing")
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("error: source.connection_ref: \"crm\" is not defined in \(scratch.stateDir)/c.json"))
        #expect(!missing.stderr.contains("topsecret"))
    }
}
