import ConnectorCore
import Foundation
import SQLiteStore
import Testing

/// Snapshots of tables with no key: one unordered scan into a staging table, put in place when
/// the run completes; a stopped or killed run leaves no half table visible and starts over.
@Suite("Keyless snapshots", .enabled(if: TestDatabase.isAvailable, TestDatabase.skipReason), .serialized)
struct KeylessSnapshotTests {
    /// 6,000 rows, 1,000 of them exact duplicates of others: no key could tell them apart.
    func seed(_ scratch: Scratch) throws {
        try scratch.sql("""
            CREATE TABLE {s}.log (at timestamptz, level text, message text);
            INSERT INTO {s}.log SELECT '2026-01-01'::timestamptz + (g % 5000) * interval '1 s', 'info', 'm' || (g % 5000)
            FROM generate_series(1, 6000) g;
            """)
    }

    /// `value -> copies` of the KB table, to compare with the source's multiset.
    func kbMultiset(_ kb: SQLiteDatabase, _ table: String) throws -> [String: Int64] {
        var counts: [String: Int64] = [:]
        for row in try kb.rows("SELECT message, count(*) FROM \(SQLIdentifier.quote(table)) GROUP BY message") {
            if let message = row[0].text, case .integer(let count) = row[1] { counts[message] = count }
        }
        return counts
    }

    func sourceMultiset(_ scratch: Scratch) throws -> [String: Int64] {
        let result = try scratch.sql("SELECT message, count(*) FROM {s}.log GROUP BY message")
        var counts: [String: Int64] = [:]
        for row in 0..<result.rowCount { counts[result.string(row, 0)!] = Int64(result.string(row, 1)!)! }
        return counts
    }

    @Test func aKeylessTableIsCopiedWholeDuplicatesIncluded() throws {
        let scratch = try Scratch()
        try seed(scratch)
        let result = try scratch.extract(scratch.spec(table: "log", cursor: nil, batchRows: 500))
        #expect(result.state == .completed && result.rowsLanded == 6000 && result.segments == 1)
        #expect(try kbMultiset(scratch.kb(), "log") == sourceMultiset(scratch))
        // No checkpoint: the next run of the job reads the whole table again and replaces it.
        #expect(result.checkpoint == nil)
    }

    @Test(arguments: ["create", "replace", "append"])
    func aStoppedSnapshotLeavesNoHalfTableAndItsRerunStartsOver(mode: String) throws {
        let scratch = try Scratch()
        try seed(scratch)
        let kbMode = JobSpec.Mode(rawValue: mode)!
        if mode != "create" {
            // An earlier copy (all 6,000 rows) that a stopped run must leave as it was.
            try scratch.extract(scratch.spec(table: "log", cursor: nil, batchRows: 500, mode: .create), jobID: "first")
        }
        let spec = scratch.spec(table: "log", cursor: nil, batchRows: 500, mode: kbMode)
        let stopping = scratch.extractor(spec, jobID: "keyless")
        let stopped = try stopping.run { progress in if progress.batches == 3 { stopping.stop() } }
        #expect(stopped.state == .stopped && stopped.rowsLanded == 1500)
        let kb = try scratch.kb()
        let visible = try kb.rows("SELECT count(*) FROM sqlite_master WHERE name = 'log'").first?.first
        if mode == "create" {
            #expect(visible == .integer(0), "a stopped keyless snapshot must not leave a half table")
        } else {
            #expect(try kb.rows("SELECT count(*) FROM log").first?.first == .integer(6000))
        }
        // The same job again: it starts over, and the 1,500 rows of the stopped run are not counted twice.
        let rerun = try scratch.extract(spec, jobID: "keyless")
        #expect(rerun.state == .completed && rerun.rowsLanded == 6000 && rerun.totalRowsLanded == 6000)
        let expected = try sourceMultiset(scratch).mapValues { mode == "append" ? $0 * 2 : $0 }
        #expect(try kbMultiset(kb, "log") == expected)
        #expect(try kb.rows("SELECT count(*) FROM sqlite_master WHERE name LIKE '_timbal_replace_%'").first?.first == .integer(0))
    }

    @Test(arguments: ["local", "hosted"])
    func aKilledKeylessSnapshotStartsOverAndLandsEveryRowOnce(placement: String) throws {
        let scratch = try Scratch()
        try seed(scratch)
        let harness = try DaemonHarness()
        try harness.startPlane()
        try harness.enroll()
        try harness.startConnector()
        try harness.waitOnline()
        let reply = try harness.dispatch("""
            {"kb_id": 42, "dest_table": "log", "placement": "\(placement)", "batch_rows": 100, "pacing": {"max_rows_per_sec": 2000},
             "source": {"kind": "postgres", "connection_ref": "pg", "schema": "\(scratch.schema)", "table": "log"}}
            """)
        guard case .string(let id)? = reply.json["job_id"] else { throw HarnessError("dispatch: \(reply)") }
        #expect(waitUntil(seconds: 30) { harness.rowsEmitted(id) >= 1000 })
        kill(harness.connector!.processIdentifier, SIGKILL)
        harness.connector!.waitUntilExit()
        try harness.startConnector()
        let done = try harness.waitForJob(id, state: "completed", seconds: 90)
        #expect(done["rows_emitted"] == .number("6000"), "\(done)")
        let counts: [String]
        if placement == "local" {
            let kb = try SQLiteDatabase(path: harness.directory + "/state/kb/42.sqlite", readOnly: true)
            counts = try kb.rows("SELECT count(*), count(DISTINCT message) FROM log").first!.map(\.description)
        } else {
            counts = try harness.hostedRow("SELECT count(*), count(DISTINCT message) FROM log").map {
                if case .number(let text) = $0 { return text }
                return "\($0)"
            }
        }
        #expect(counts == ["6000", "5000"])
    }
}
