import ConnectorCore
import Foundation
import SQLiteStore
import Testing

/// A stop that lasts (issued while the connector is down, or just before it is killed) and a
/// revocation that ends the connector: real devplane and connector processes, a real Postgres.
@Suite("Stops that last, revocation", .enabled(if: TestDatabase.isAvailable, TestDatabase.skipReason), .serialized)
struct StopAndRevokeTests {
    func started() throws -> (DaemonHarness, Scratch) {
        let scratch = try Scratch()
        try scratch.sql("""
            CREATE TABLE {s}.events (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL, note text);
            INSERT INTO {s}.events SELECT g, '2026-01-01'::timestamptz + g * interval '1 s', 'v' || g FROM generate_series(1, 20000) g;
            CREATE INDEX ON {s}.events (updated_at, id);
            ANALYZE {s}.events;
            """)
        let harness = try DaemonHarness()
        try harness.startPlane()
        try harness.enroll()
        try harness.startConnector()
        try harness.waitOnline()
        return (harness, scratch)
    }

    /// A slow job (about 10 s): 2,000 rows a second in batches of 100.
    func slowJob(_ harness: DaemonHarness, _ scratch: Scratch, placement: String) throws -> String {
        let reply = try harness.dispatch(DaemonHarness.jobBody(table: "events", schema: scratch.schema, dest: "ev", placement: placement,
                                                               batchRows: 100, pacing: #"{"max_rows_per_sec": 2000}"#))
        guard reply.status == 202, case .string(let id)? = reply.json["job_id"] else { throw HarnessError("dispatch: \(reply)") }
        #expect(waitUntil(seconds: 30) { harness.rowsEmitted(id) >= 1000 })
        return id
    }

    func killConnector(_ harness: DaemonHarness) {
        kill(harness.connector!.processIdentifier, SIGKILL)
        harness.connector!.waitUntilExit()
    }

    /// Rows in the job's KB table: the local file or the hosted KB.
    func landed(_ harness: DaemonHarness, placement: String) throws -> Int64 {
        if placement == "local" {
            let kb = try SQLiteDatabase(path: harness.directory + "/state/kb/42.sqlite", readOnly: true)
            if case .integer(let count)? = try kb.rows("SELECT count(*) FROM ev").first?.first { return count }
            return -1
        }
        if case .number(let text)? = try harness.hostedRow("SELECT count(*) FROM ev").first { return Int64(text) ?? -1 }
        return -1
    }

    func connectorState(_ harness: DaemonHarness, _ jobID: String) throws -> String? {
        let state = try SQLiteDatabase(path: harness.directory + "/state/state.sqlite", readOnly: true)
        return try state.rows("SELECT state FROM jobs WHERE job_id = ?", [.text(jobID)]).first?.first?.text
    }

    @Test(arguments: ["local", "hosted"], [true, false])
    func aStopHoldsAcrossAConnectorRestart(placement: String, stopWhileDown: Bool) throws {
        let (harness, scratch) = try started()
        let id = try slowJob(harness, scratch, placement: placement)
        let stopPath = "/orgs/org_dev/connectors/\(harness.connectorID)/jobs/\(id)/stop"
        if stopWhileDown {
            killConnector(harness)
            let stop = try harness.request("POST", stopPath)
            #expect(stop.json == .object([("job_id", .string(id)), ("state", .string("stopped"))]), "\(stop)")
        } else {
            // Stopped, then killed before it can say so.
            _ = try harness.request("POST", stopPath)
            killConnector(harness)
        }
        let before = try landed(harness, placement: placement)
        try harness.startConnector()
        try harness.waitOnline()
        // The connector hears the job is over and records it; it never reads on.
        #expect(waitUntil(seconds: 20) { (try? connectorState(harness, id)) == "stopped" }, "\(harness.log("connector2.err"))")
        Thread.sleep(forTimeInterval: 2)
        #expect(try landed(harness, placement: placement) == before)
        #expect(try harness.job(id)["state"] == .string("stopped"))
        #expect(try harness.request("POST", stopPath).json["state"] == .string("stopped"))
        #expect(!harness.log("connector2.err").contains("resuming"), "\(harness.log("connector2.err"))")
    }

    @Test func aJobTheConnectorResumesIsOneThePlaneStillWantsAndItsViewIsLiveAndNeverGoesBackwards() throws {
        let (harness, scratch) = try started()
        let id = try slowJob(harness, scratch, placement: "local")
        // While it runs: a duration to now, the cursor it reached, the time left.
        let running = try harness.job(id)
        #expect(running["state"] == .string("running"))
        #expect(running["duration_ms"] != nil && running["current_cursor"]?["kind"] == .string("timestamptz"), "\(running)")
        #expect(running["eta_s"] != nil && running["rows_per_sec"] != nil, "\(running)")
        var highest: Int64 = 0
        var backwards: [Int64] = []
        func sample() -> Bool {
            let view = (try? harness.job(id)) ?? .null
            if case .number(let text)? = view["rows_emitted"], let rows = Int64(text) {
                if rows < highest { backwards.append(rows) }
                highest = max(highest, rows)
            }
            return view["state"] == .string("completed")
        }
        _ = sample()
        killConnector(harness)
        try harness.startConnector()
        #expect(waitUntil(seconds: 60) { sample() })
        #expect(backwards.isEmpty, "rows_emitted went back to \(backwards) after \(highest)")
        #expect(try landed(harness, placement: "local") == 20000)
        let done = try harness.job(id)
        #expect(done["rows_emitted"] == .number("20001") && done["eta_s"] == nil) // and the high-water mark's row, read again by the catch-up
        #expect(harness.log("connector2.err").contains("resuming job from its checkpoint"))
    }

    @Test func aRevokedConnectorStopsItsJobsAndExitsForGood() throws {
        let (harness, scratch) = try started()
        let id = try slowJob(harness, scratch, placement: "local")
        let syncs = "/orgs/org_dev/connectors/\(harness.connectorID)/syncs"
        let sync = try harness.request("POST", syncs, body: SyncTests.body(schema: scratch.schema, table: "events", dest: "synced", interval: 3600))
        guard case .string(let syncID)? = sync.json["sync_id"] else { throw HarnessError("sync: \(sync)") }
        // A malformed request revokes nothing.
        let malformed = try harness.request("POST", "/orgs/org_dev/connectors/\(harness.connectorID)/revoke", body: "{not json")
        #expect(malformed.status == 400 && harness.connector!.isRunning)
        let revoke = try harness.request("POST", "/orgs/org_dev/connectors/\(harness.connectorID)/revoke")
        #expect(revoke.json == .object([("connector_id", .string(harness.connectorID)), ("disconnected", .bool(true)),
                                        ("stopped_syncs", .number("1"))]), "\(revoke)")
        let syncView = try harness.request("GET", "\(syncs)/\(syncID)").json["sync"]
        #expect(syncView?["enabled"] == .bool(false) && syncView?["disabled_reason"] != nil, "\(String(describing: syncView))")
        let connector = harness.connector!
        #expect(waitUntil(seconds: 30) { !connector.isRunning }, "the revoked connector kept running")
        if !connector.isRunning {
            #expect(connector.terminationStatus == 77, "\(harness.log("connector1.err"))")
        }
        #expect(try connectorState(harness, id) == "stopped")
        #expect(try harness.job(id)["state"] == .string("stopped"))
        // One line says it (debug lines aside).
        let lines = harness.log("connector1.err").split(separator: "\n").filter { $0.contains("revoked") && !$0.contains("level=debug") }
        #expect(lines.count == 1 && lines.first?.contains("level=critical") == true, "\(lines)")
        // Started again, it is refused at once and exits the same way: no redialling for ever.
        try harness.startConnector()
        let again = harness.connector!
        #expect(waitUntil(seconds: 30) { !again.isRunning })
        if !again.isRunning { #expect(again.terminationStatus == 77) }
        let view = try harness.request("GET", "/orgs/org_dev/connectors/\(harness.connectorID)").json
        #expect(view["connected"] == .bool(false) && view["revoked"] == .bool(true))
        // It remembers: with the plane down too, it does not start (and redial for ever).
        harness.killPlane()
        try harness.startConnector()
        let offline = harness.connector!
        #expect(waitUntil(seconds: 30) { !offline.isRunning })
        if !offline.isRunning { #expect(offline.terminationStatus == 77) }
    }
}
