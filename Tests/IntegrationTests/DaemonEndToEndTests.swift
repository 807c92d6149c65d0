import ConnectorCore
import Foundation
import SQLiteStore
import Testing

/// The daemon and the development plane as real processes over a real WebSocket channel.
@Suite("Daemon end to end", .enabled(if: TestDatabase.isAvailable), .serialized)
struct DaemonEndToEndTests {
    func seed(_ scratch: Scratch, rows: Int) throws {
        try scratch.sql("""
            CREATE TABLE {s}.events (id bigint PRIMARY KEY, updated_at timestamptz, amount numeric(12,3), note text, raw bytea);
            INSERT INTO {s}.events SELECT g, CASE WHEN g % 101 = 0 THEN NULL ELSE '2026-01-01'::timestamptz + (g / 3) * interval '1 ms' END,
                   g * 1.001, 'n' || g, decode(md5(g::text), 'hex')
            FROM generate_series(1, \(rows)) g;
            CREATE INDEX ON {s}.events (updated_at, id);
            """)
    }

    func localCount(_ harness: DaemonHarness, table: String) throws -> [SQLiteValue] {
        let kb = try SQLiteDatabase(path: harness.directory + "/state/kb/42.sqlite", readOnly: true)
        return try kb.rows("SELECT count(*), count(DISTINCT id) FROM \(SQLIdentifier.quote(table))").first ?? []
    }

    func started() throws -> (DaemonHarness, Scratch) {
        let scratch = try Scratch()
        let harness = try DaemonHarness()
        try harness.startPlane()
        try harness.enroll()
        try harness.startConnector()
        try harness.waitOnline()
        return (harness, scratch)
    }

    func jobID(_ reply: DaemonHarness.Reply) throws -> String {
        guard reply.status == 202, case .string(let id)? = reply.json["job_id"] else { throw HarnessError("dispatch: \(reply)") }
        return id
    }

    @Test func dispatchedJobsCompleteWithTheKBEqualToTheSourceForBothPlacements() throws {
        let (harness, scratch) = try started()
        try seed(scratch, rows: 3_000)
        let local = try jobID(harness.dispatch(DaemonHarness.jobBody(table: "events", schema: scratch.schema, dest: "ev", placement: "local")))
        let hosted = try jobID(harness.dispatch(DaemonHarness.jobBody(table: "events", schema: scratch.schema, dest: "ev", placement: "hosted")))
        let localView = try harness.waitForJob(local, state: "completed")
        let hostedView = try harness.waitForJob(hosted, state: "completed")
        #expect(localView["rows_emitted"] == .number("3000"))
        #expect(hostedView["rows_emitted"] == .number("3000"))
        #expect(hostedView["started_at"] != nil && hostedView["finished_at"] != nil && hostedView["duration_ms"] != nil)
        #expect(try localCount(harness, table: "ev") == [.integer(3000), .integer(3000)])
        let hostedSum = try harness.hostedRow("SELECT count(*), count(DISTINCT id), total(CAST(amount AS REAL)) > 0 FROM ev")
        #expect(hostedSum == [.number("3000"), .number("3000"), .number("1")])
        // Byte-for-byte the same cells as the local KB.
        let localKB = try SQLiteDatabase(path: harness.directory + "/state/kb/42.sqlite", readOnly: true)
        let localRow = try localKB.rows("SELECT updated_at, amount, note, hex(raw) FROM ev WHERE id = 1234").first!
        let hostedRow = try harness.hostedRow("SELECT updated_at, amount, note, hex(raw) FROM ev WHERE id = 1234")
        #expect(hostedRow.map { if case .string(let s) = $0 { return SQLiteValue.text(s) }; return .null } == localRow)
    }

    @Test func aJobNeedingAMissingCapabilityIsRefusedOrFailsNamingIt() throws {
        let (harness, scratch) = try started()
        let body = DaemonHarness.jobBody(table: "events", schema: scratch.schema, dest: "ev", placement: "local", kind: "mysql")
        let refused = try harness.dispatch(body)
        #expect(refused.status == 422)
        #expect(refused.json["error"] == .string("connector \(harness.connectorID) lacks capability \"source:mysql\""))
        let forced = try jobID(harness.dispatch(body, query: "?skip_checks=true"))
        let view = try harness.waitForJob(forced, state: "failed")
        guard case .string(let message)? = view["message"] else { Issue.record("no message"); return }
        #expect(message.contains("lacks capability \"source:mysql\""))

        let unknownKB = try harness.dispatch(body.replacingOccurrences(of: "\"kb_id\": 42", with: "\"kb_id\": 7"))
        #expect(unknownKB.status == 404)
        let invalid = try harness.dispatch(body.replacingOccurrences(of: "\"batch_rows\": 500", with: "\"batch_rows\": -1"))
        #expect(invalid.status == 400)
        #expect(invalid.json["error"] == .string("batch_rows: must be >= 0, got -1"))
    }

    @Test func stopAbortsTheJobWithinABatchAtABatchBoundary() throws {
        let (harness, scratch) = try started()
        try seed(scratch, rows: 5_000)
        let id = try jobID(harness.dispatch(DaemonHarness.jobBody(table: "events", schema: scratch.schema, dest: "ev", placement: "local",
                                                                   batchRows: 100, pacing: #"{"batch_delay_ms": 100}"#)))
        #expect(waitUntil(seconds: 30) { harness.rowsEmitted(id) >= 300 })
        let stopped = try harness.request("POST", "/orgs/org_dev/connectors/\(harness.connectorID)/jobs/\(id)/stop")
        #expect(stopped.json["state"] == .string("stopped"))
        // The connector stops too: its local record says so, and the table sits at a batch boundary.
        let kbPath = harness.directory + "/state/kb/42.sqlite"
        #expect(waitUntil(seconds: 10) {
            (try? LocalKB(stateDir: harness.directory + "/state", kbID: 42).jobRecord(id)?.state) == "stopped"
        })
        let record = try LocalKB(stateDir: harness.directory + "/state", kbID: 42).jobRecord(id)!
        let count = try SQLiteDatabase(path: kbPath, readOnly: true).rows("SELECT count(*) FROM ev").first!
        #expect(count == [.integer(record.rowsLanded)])
        #expect(record.rowsLanded < 5_000)
        #expect(record.rowsLanded % 100 == 0 || record.rowsLanded % 100 == 49)  // 49 = the NULL-cursor pass
        let again = try harness.request("POST", "/orgs/org_dev/connectors/\(harness.connectorID)/jobs/\(id)/stop")
        #expect(again.json["state"] == .string("stopped"))
    }

    @Test func aRestartedPlaneMidJobStillGetsEveryHostedRowExactlyOnce() throws {
        let (harness, scratch) = try started()
        try seed(scratch, rows: 4_000)
        let id = try jobID(harness.dispatch(DaemonHarness.jobBody(table: "events", schema: scratch.schema, dest: "ev", placement: "hosted",
                                                                   batchRows: 100, pacing: #"{"batch_delay_ms": 40}"#)))
        #expect(waitUntil(seconds: 30) { harness.rowsEmitted(id) >= 500 })
        harness.killPlane()
        Thread.sleep(forTimeInterval: 1)
        try harness.startPlane()
        try harness.waitForJob(id, state: "completed", seconds: 120)
        #expect(try harness.hostedRow("SELECT count(*), count(DISTINCT id) FROM ev") == [.number("4000"), .number("4000")])
        #expect(harness.log("connector1.err").contains("channel down"))
    }

    @Test(arguments: ["local", "hosted"])
    func aConnectorKilledMidJobResumesAfterRestartWithEveryRowOnce(placement: String) throws {
        let (harness, scratch) = try started()
        try seed(scratch, rows: 4_000)
        let id = try jobID(harness.dispatch(DaemonHarness.jobBody(table: "events", schema: scratch.schema, dest: "ev", placement: placement,
                                                                   batchRows: 100, pacing: #"{"batch_delay_ms": 30}"#)))
        #expect(waitUntil(seconds: 30) { harness.rowsEmitted(id) >= 500 })
        kill(harness.connector!.processIdentifier, SIGKILL)
        harness.connector!.waitUntilExit()
        try harness.startConnector()
        try harness.waitForJob(id, state: "completed", seconds: 120)
        if placement == "local" {
            #expect(try localCount(harness, table: "ev") == [.integer(4000), .integer(4000)])
        } else {
            #expect(try harness.hostedRow("SELECT count(*), count(DISTINCT id) FROM ev") == [.number("4000"), .number("4000")])
        }
        #expect(harness.log("connector2.err").contains("resum"))
    }

    @Test func sigtermExitsCleanlyAndTheJobResumesOnTheNextStart() throws {
        let (harness, scratch) = try started()
        try seed(scratch, rows: 3_000)
        let id = try jobID(harness.dispatch(DaemonHarness.jobBody(table: "events", schema: scratch.schema, dest: "ev", placement: "local",
                                                                   batchRows: 100, pacing: #"{"batch_delay_ms": 50}"#)))
        #expect(waitUntil(seconds: 30) { harness.rowsEmitted(id) >= 300 })
        let connector = harness.connector!
        kill(connector.processIdentifier, SIGTERM)
        #expect(waitUntil(seconds: 15) { !connector.isRunning })
        #expect(connector.terminationStatus == 0)
        #expect(harness.log("connector1.err").contains("job interrupted by shutdown at a batch boundary"))
        #expect(try harness.job(id)["state"] == .string("running"))
        try harness.startConnector()
        try harness.waitForJob(id, state: "completed", seconds: 60)
        #expect(try localCount(harness, table: "ev") == [.integer(3000), .integer(3000)])
    }

    @Test func aBadCredentialIsRefusedAndSaidInOneLogLine() throws {
        let harness = try DaemonHarness()
        try harness.startPlane()
        try harness.enroll()
        try #"{"connector_id": "conn_fake", "credential": "cred_wrong"}"#
            .write(toFile: harness.directory + "/state/credential.json", atomically: true, encoding: .utf8)
        let name = try harness.startConnector()
        #expect(waitUntil(seconds: 15) { harness.log(name + ".err").contains("control plane refused the channel") },
                "\(harness.log(name + ".err"))")
        let lines = harness.log(name + ".err").split(separator: "\n").filter { $0.contains("refused the channel") }
        #expect(lines.first?.contains("invalid credential") == true)
        #expect(!harness.log(name + ".err").contains("cred_wrong"))
    }
}
