import ConnectorCore
import Foundation
import SQLiteStore
import Testing

/// `deletes` through real plane and connector processes: dispatched jobs in both placements (the
/// hosted KB applies the slices the connector sends over the channel), and a sync that reconciles
/// every other run.
@Suite("Deletes through the plane", .enabled(if: TestDatabase.isAvailable, TestDatabase.skipReason), .serialized)
struct DeletesThroughThePlaneTests {
    func started(syncTick: Bool = false) throws -> (DaemonHarness, Scratch) {
        let scratch = try Scratch()
        let harness = try DaemonHarness()
        if syncTick { harness.planeArguments = ["--sync-tick-s", "1"] }
        try harness.startPlane()
        try harness.enroll()
        try harness.startConnector()
        try harness.waitOnline()
        try scratch.sql("""
            CREATE TABLE {s}.events (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL, note text);
            INSERT INTO {s}.events SELECT g, '2026-01-01'::timestamptz + g * interval '1 s', 'v1' FROM generate_series(1, 3000) g;
            """)
        return (harness, scratch)
    }

    func body(_ scratch: Scratch, placement: String, deletes: String, pacing: String = "null") -> String {
        """
        {"kb_id": 42, "dest_table": "ev", "placement": "\(placement)", "mode": "append", "batch_rows": 500, "deletes": "\(deletes)",
         "pacing": \(pacing),
         "source": {"kind": "postgres", "connection_ref": "pg", "schema": "\(scratch.schema)", "table": "events", "cursor_column": "updated_at"}}
        """
    }

    func run(_ harness: DaemonHarness, _ body: String) throws -> JSONValue {
        let reply = try harness.dispatch(body)
        guard reply.status == 202, case .string(let id)? = reply.json["job_id"] else { throw HarnessError("dispatch: \(reply)") }
        return try harness.waitForJob(id, state: "completed", seconds: 120)
    }

    func count(_ harness: DaemonHarness, _ placement: String, _ sql: String) throws -> String {
        if placement == "local" {
            return try SQLiteDatabase(path: harness.directory + "/state/kb/42.sqlite", readOnly: true).rows(sql)[0][0].description
        }
        guard let first = try harness.hostedRow(sql).first else { return "none" }
        if case .number(let text) = first { return text }
        return first.serialized()
    }

    @Test(arguments: [("local", "hard"), ("hosted", "hard"), ("hosted", "soft")])
    func deletedRowsLeaveOrAreMarkedInBothPlacements(placement: String, deletes: String) throws {
        let (harness, scratch) = try started()
        let first = try run(harness, body(scratch, placement: placement, deletes: deletes))
        #expect(first["rows_deleted"] == .number("0"))
        try scratch.sql("DELETE FROM {s}.events WHERE id % 30 = 0")
        let second = try run(harness, body(scratch, placement: placement, deletes: deletes))
        #expect(second["rows_deleted"] == .number("100"))
        if deletes == "hard" {
            #expect(try count(harness, placement, "SELECT count(*) FROM ev") == "2900")
        } else {
            #expect(try count(harness, placement, "SELECT count(*) FROM ev WHERE _timbal_deleted_at IS NULL") == "2900")
            #expect(try count(harness, placement, "SELECT count(*) FROM ev WHERE _timbal_deleted_at IS NOT NULL AND id % 30 = 0") == "100")
        }
    }

    @Test func aHostedPassKilledMidwayFinishesOnTheRerunWithoutLosingARow() throws {
        let (harness, scratch) = try started()
        _ = try run(harness, body(scratch, placement: "hosted", deletes: "hard"))
        try scratch.sql("DELETE FROM {s}.events WHERE id % 2 = 0")
        // Paced: the pass sends many small slices; the connector dies after some have landed.
        let reply = try harness.dispatch(body(scratch, placement: "hosted", deletes: "hard", pacing: #"{"max_rows_per_sec": 600}"#))
        guard case .string(let id)? = reply.json["job_id"] else { throw HarnessError("dispatch: \(reply)") }
        let midway = try waitUntil(seconds: 60) {
            let left = Int(try count(harness, "hosted", "SELECT count(*) FROM ev")) ?? 3000
            return left < 2900 && left > 1600
        }
        #expect(midway)
        kill(harness.connector!.processIdentifier, SIGKILL)
        harness.connector!.waitUntilExit()
        #expect(try count(harness, "hosted", "SELECT count(*) FROM ev WHERE id % 2 = 1") == "1500")
        try harness.startConnector()
        _ = try harness.waitForJob(id, state: "completed", seconds: 120)
        #expect(try count(harness, "hosted", "SELECT count(*) FROM ev") == "1500")
        #expect(try count(harness, "hosted", "SELECT count(*) FROM ev WHERE id % 2 = 1") == "1500")
    }

    @Test func aSyncReconcilesEveryNthRun() throws {
        let (harness, scratch) = try started()
        let path = "/orgs/org_dev/connectors/\(harness.connectorID)/syncs"
        let created = try harness.request("POST", path, body: """
            {"kb_id": 42, "dest_table": "ev", "placement": "hosted", "interval_secs": 3600, "deletes": "hard", "reconcile_every_runs": 2,
             "source": {"kind": "postgres", "connection_ref": "pg", "schema": "\(scratch.schema)", "table": "events", "cursor_column": "updated_at"}}
            """)
        guard created.status == 201, case .string(let id)? = created.json["sync_id"] else { throw HarnessError("create: \(created)") }
        func runOnce() throws {
            let ran = try harness.request("POST", "\(path)/\(id)/run")
            guard ran.status == 202, case .string(let job)? = ran.json["job_id"] else { throw HarnessError("run: \(ran)") }
            _ = try harness.waitForJob(job, state: "completed", seconds: 120)
        }
        let rows = { try count(harness, "hosted", "SELECT count(*) FROM ev") }
        try runOnce()                                              // run 1: the load, no reconciliation
        try scratch.sql("DELETE FROM {s}.events WHERE id <= 100")
        try runOnce()                                              // run 2 reconciles
        #expect(try rows() == "2900")
        try scratch.sql("DELETE FROM {s}.events WHERE id > 2950")
        try runOnce()                                              // run 3 only catches up
        #expect(try rows() == "2900")
        try runOnce()                                              // run 4 reconciles
        #expect(try rows() == "2850")
        let detail = try harness.request("GET", "\(path)/\(id)").json
        #expect(detail["stats"]?["rows_deleted"] == .number("150"))
        #expect(detail["sync"]?["reconcile_every_runs"] == .number("2") && detail["sync"]?["deletes"] == .string("hard"))
        // PATCH: every run from now on.
        let patched = try harness.request("PATCH", "\(path)/\(id)", body: #"{"reconcile_every_runs": 1}"#)
        #expect(patched.status == 200 && patched.json["sync"]?["reconcile_every_runs"] == .number("1"))
        try scratch.sql("DELETE FROM {s}.events WHERE id = 500")
        try runOnce()
        #expect(try rows() == "2849")
    }
}
