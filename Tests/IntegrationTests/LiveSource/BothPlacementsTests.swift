import ConnectorCore
import Foundation
import SQLiteStore
import Testing

/// The exactly-once rules through the daemon, for both placements: the local KB and the plane's
/// hosted KB follow one copy of the KB rules (KBRules), so one job behaves the same in both.
@Suite("Exactly once, both placements", .enabled(if: TestDatabase.isAvailable, TestDatabase.skipReason), .serialized)
struct BothPlacementsTests {
    func started() throws -> (DaemonHarness, Scratch) {
        let scratch = try Scratch()
        let harness = try DaemonHarness()
        try harness.startPlane()
        try harness.enroll()
        try harness.startConnector()
        try harness.waitOnline()
        try scratch.sql("""
            CREATE TABLE {s}.events (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL, amount int, note text);
            INSERT INTO {s}.events SELECT g, '2026-01-01'::timestamptz + g * interval '1 s', g, 'v1' FROM generate_series(1, 3000) g;
            CREATE INDEX ON {s}.events (updated_at, id);
            """)
        return (harness, scratch)
    }

    func body(_ scratch: Scratch, placement: String, mode: String = "append", cursor: String = "null",
              batchRows: Int = 500, pacing: String = "null") -> String {
        """
        {"kb_id": 42, "dest_table": "ev", "placement": "\(placement)", "mode": "\(mode)", "batch_rows": \(batchRows),
         "cursor": \(cursor), "pacing": \(pacing),
         "source": {"kind": "postgres", "connection_ref": "pg", "schema": "\(scratch.schema)", "table": "events", "cursor_column": "updated_at"}}
        """
    }

    func run(_ harness: DaemonHarness, _ body: String, until state: String = "completed") throws -> JSONValue {
        let reply = try harness.dispatch(body)
        guard reply.status == 202, case .string(let id)? = reply.json["job_id"] else { throw HarnessError("dispatch: \(reply)") }
        return try harness.waitForJob(id, state: state, seconds: 120)
    }

    /// `SELECT …` on the job's KB: the local file, or the hosted KB through the plane's query route.
    func rows(_ harness: DaemonHarness, _ placement: String, _ sql: String) throws -> [String] {
        if placement == "local" {
            let kb = try SQLiteDatabase(path: harness.directory + "/state/kb/42.sqlite", readOnly: true)
            return try kb.rows(sql).first!.map { $0.description }
        }
        return try harness.hostedRow(sql).map {
            switch $0 {
            case .string(let text): return text
            case .number(let text): return text
            case .null: return "NULL"
            default: return "\($0)"
            }
        }
    }

    @Test(arguments: ["local", "hosted"])
    func anExplicitCursorIsNotReappliedWhenAKilledJobResumes(placement: String) throws {
        let (harness, scratch) = try started()
        let cursor = #"{"kind": "timestamptz", "value": "2026-01-01 00:16:40+00"}"#  // id 1000's value: from it on
        let reply = try harness.dispatch(body(scratch, placement: placement, mode: "create", cursor: cursor,
                                              batchRows: 100, pacing: #"{"batch_delay_ms": 200}"#))
        guard case .string(let id)? = reply.json["job_id"] else { throw HarnessError("dispatch: \(reply)") }
        // 20 batches 200 ms apart: the run lasts 4 s at least, so the kill comes mid-run. (Local
        // rows commit once a second, in key order; killed after its last commit, a job reruns
        // incrementally and reads its last cursor value again, which this count would show.)
        #expect(waitUntil(seconds: 30) { harness.rowsEmitted(id) >= 500 })
        kill(harness.connector!.processIdentifier, SIGKILL)
        harness.connector!.waitUntilExit()
        #expect(harness.rowsEmitted(id) < 2001, "the kill came after the last batch")
        try harness.startConnector()
        let view = try harness.waitForJob(id, state: "completed", seconds: 120)
        #expect(try rows(harness, placement, "SELECT count(*), count(DISTINCT id), min(id) FROM ev") == ["2001", "2001", "1000"])
        // Rows would merge by key even if the resume re-read them; the count of rows landed tells.
        #expect(view["rows_emitted"] == .number("2001"))
    }

    @Test(arguments: ["local", "hosted"])
    func rowsReadAgainMergeByKeyInsteadOfDuplicating(placement: String) throws {
        let (harness, scratch) = try started()
        _ = try run(harness, body(scratch, placement: placement))
        try scratch.sql("UPDATE {s}.events SET updated_at = '2027-01-01', note = 'v2' WHERE id IN (7, 2000)")
        // The next run starts from the last value the first one read, and reads the two moved rows.
        let next = #"{"kind": "timestamptz", "value": "2026-01-01 00:50:00+00"}"#
        _ = try run(harness, body(scratch, placement: placement, cursor: next))
        #expect(try rows(harness, placement, "SELECT count(*), count(DISTINCT id), sum(note = 'v2') FROM ev") == ["3000", "3000", "2"])
        // A full re-read in mode create into a new table: every key once.
        try scratch.sql("UPDATE {s}.events SET updated_at = updated_at + interval '1 year' WHERE id <= 10")
        _ = try run(harness, body(scratch, placement: placement).replacingOccurrences(of: #""dest_table": "ev""#, with: #""dest_table": "ev2""#))
        #expect(try rows(harness, placement, "SELECT count(*), count(DISTINCT id) FROM ev2") == ["3000", "3000"])
    }

    @Test(arguments: ["local", "hosted"])
    func anAddedColumnIsAddedAndARetypedOneFailsTheJobNamingIt(placement: String) throws {
        let (harness, scratch) = try started()
        _ = try run(harness, body(scratch, placement: placement))
        try scratch.sql("ALTER TABLE {s}.events ADD COLUMN region text; UPDATE {s}.events SET region = 'eu', updated_at = '2027-01-01' WHERE id = 1")
        _ = try run(harness, body(scratch, placement: placement))
        #expect(try rows(harness, placement, "SELECT count(*), sum(region = 'eu'), sum(region IS NULL) FROM ev") == ["3000", "1", "2999"])
        try scratch.sql("ALTER TABLE {s}.events ALTER COLUMN amount TYPE text")
        let failed = try run(harness, body(scratch, placement: placement), until: "failed")
        guard case .string(let message)? = failed["message"] else { throw HarnessError("no message: \(failed)") }
        #expect(message.contains("\"amount\"") && message.contains("from integer to text"), "\(message)")
    }

    @Test(arguments: ["local", "hosted"])
    func twoJobsWritingOneTableAreNotInterleaved(placement: String) throws {
        let (harness, scratch) = try started()
        let slow = try harness.dispatch(body(scratch, placement: placement, mode: "create", batchRows: 100, pacing: #"{"max_rows_per_sec": 3000}"#))
        guard case .string(let first)? = slow.json["job_id"] else { throw HarnessError("dispatch: \(slow)") }
        #expect(waitUntil(seconds: 30) { harness.rowsEmitted(first) >= 300 })
        let second = try run(harness, body(scratch, placement: placement, mode: "replace"), until: "failed")
        guard case .string(let message)? = second["message"] else { throw HarnessError("no message: \(second)") }
        #expect(message.contains("is being written by another job (job=\(first)"), "\(message)")
        try harness.waitForJob(first, state: "completed", seconds: 60)
        #expect(try rows(harness, placement, "SELECT count(*), count(DISTINCT id) FROM ev") == ["3000", "3000"])
    }
}
