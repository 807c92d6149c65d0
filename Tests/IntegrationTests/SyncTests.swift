import ConnectorCore
import Foundation
import Testing

/// Syncs kept by the development plane (docs/syncs.md), with real plane and connector processes,
/// a real Postgres, and the plane's scheduler ticking every second.
@Suite("Syncs", .enabled(if: TestDatabase.isAvailable, TestDatabase.skipReason), .serialized)
struct SyncTests {
    func started(connector: Bool = true) throws -> (DaemonHarness, Scratch) {
        let scratch = try Scratch()
        let harness = try DaemonHarness()
        harness.planeArguments = ["--sync-tick-s", "1"]
        try harness.startPlane()
        try harness.enroll()
        if connector {
            try harness.startConnector()
            try harness.waitOnline()
        }
        return (harness, scratch)
    }

    func syncsPath(_ harness: DaemonHarness) -> String { "/orgs/org_dev/connectors/\(harness.connectorID)/syncs" }

    static func body(schema: String, table: String, dest: String, interval: Int = 1, cursor: String? = "updated_at",
                     extra: String = "") -> String {
        let cursorMember = cursor.map { #", "cursor_column": "\#($0)""# } ?? ""
        return """
            {"kb_id": 42, "dest_table": "\(dest)", "placement": "hosted", "batch_rows": 500, "interval_secs": \(interval)\(extra),
             "source": {"kind": "postgres", "connection_ref": "pg", "schema": "\(schema)", "table": "\(table)"\(cursorMember)}}
            """
    }

    func create(_ harness: DaemonHarness, _ body: String) throws -> (id: String, reply: JSONValue) {
        let reply = try harness.request("POST", syncsPath(harness), body: body)
        guard reply.status == 201, case .string(let id)? = reply.json["sync_id"] else { throw HarnessError("create sync: \(reply)") }
        return (id, reply.json)
    }

    func detail(_ harness: DaemonHarness, _ id: String) throws -> JSONValue {
        let reply = try harness.request("GET", "\(syncsPath(harness))/\(id)")
        guard reply.status == 200 else { throw HarnessError("sync \(id): \(reply)") }
        return reply.json
    }

    func runs(_ detail: JSONValue) -> [JSONValue] {
        if case .array(let items)? = detail["recent_runs"] { return items }
        return []
    }

    func string(_ value: JSONValue?) -> String? { if case .string(let s)? = value { return s }; return nil }
    func int(_ value: JSONValue?) -> Int64? { if case .number(let n)? = value { return Int64(n) }; return nil }

    /// Polls (gently: each look is an HTTP call) until `condition` holds.
    func eventually(seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        while Date() < deadline {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.2)
        }
        return try condition()
    }

    /// Waits for a run not in `known` to complete; a new run that fails ends the wait with its message.
    @discardableResult
    func waitForNewCompletedRun(_ harness: DaemonHarness, _ id: String, known: Set<String> = [], seconds: Double = 20) throws -> JSONValue {
        var found: JSONValue?
        var failure: String?
        _ = try eventually(seconds: seconds) {
            let fresh = runs(try detail(harness, id)).filter { !known.contains(string($0["job_id"]) ?? "") }
            failure = fresh.first { $0["state"] == .string("failed") }.map { $0.serialized() }
            found = fresh.last { $0["state"] == .string("completed") }  // the oldest: runs come newest first
            return found != nil || failure != nil
        }
        if let found { return found }
        throw HarnessError("sync \(id): no new completed run (\(failure ?? "timed out")): \(try detail(harness, id).serialized())")
    }

    func runIDs(_ harness: DaemonHarness, _ id: String) throws -> Set<String> {
        Set(runs(try detail(harness, id)).compactMap { string($0["job_id"]) })
    }

    /// `id|version|note` per row, by id, from the source and from the hosted KB.
    func sourceRows(_ scratch: Scratch, table: String) throws -> [String] {
        let result = try scratch.sql("SELECT id, version, note FROM {s}.\(table) ORDER BY id")
        return (0..<result.rowCount).map { row in (0..<3).map { result.string(row, $0) ?? "NULL" }.joined(separator: "|") }
    }

    func hostedRows(_ harness: DaemonHarness, table: String) throws -> [String] {
        let sql = "SELECT id, version, note FROM \(table) ORDER BY id"
        let reply = try harness.request("POST", "/k2/42/query", body: JSONValue.object([("sql", .string(sql))]).serialized())
        guard case .array(let rows)? = reply.json["rows"] else { throw HarnessError("query failed: \(reply)") }
        return rows.map { row in
            guard case .array(let cells) = row else { return "" }
            return cells.map { cell in
                switch cell {
                case .number(let n): return n
                case .string(let s): return s
                default: return "NULL"
                }
            }.joined(separator: "|")
        }
    }

    // MARK: incremental

    @Test func aSyncOverALiveTableKeepsTheHostedKBEqualToTheSourceByKey() throws {
        let (harness, scratch) = try started()
        try scratch.sql("""
            CREATE TABLE {s}.events (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL, version int NOT NULL, note text);
            INSERT INTO {s}.events SELECT g, '2020-01-01'::timestamptz + g * interval '1 second', 1, 'n' || g FROM generate_series(1, 2000) g;
            CREATE INDEX ON {s}.events (updated_at, id);
            """)
        // A `columns` subset without the key: the plane adds it.
        let (id, created) = try create(harness, Self.body(
            schema: scratch.schema, table: "events", dest: "ev", interval: 1,
            extra: #", "name": "live events", "key_columns": ["id"]"#)
            .replacingOccurrences(of: #""cursor_column": "updated_at""#, with: #""cursor_column": "updated_at", "columns": ["updated_at", "version", "note"]"#))
        #expect(created["adopted_dest_table"] == .bool(false))
        #expect(created["key_columns"] == .array([.string("id")]))
        #expect(created["initial_cursor"] == nil)

        let first = try waitForNewCompletedRun(harness, id)
        #expect(first["rows_emitted"] == .number("2001")) // and the high-water mark's row, read again by the catch-up
        #expect(try hostedRows(harness, table: "ev") == sourceRows(scratch, table: "events"))
        let view = try detail(harness, id)["sync"] ?? .null
        #expect(view["has_cursor"] == .bool(true))
        #expect(view["key_columns"] == .array([.string("id")]))
        #expect(view["cursor_column"] == .string("updated_at") && view["source_table"] == .string("events"))
        #expect(view["kb_uid"] == .string("42") && view["name"] == .string("live events"))
        #expect(view["consecutive_failures"] == .number("0") && view["last_success_at"] != nil)
        #expect(view["cursor"] == nil, "the raw cursor is not exposed")

        for round in 1...2 {
            try scratch.sql("""
                UPDATE {s}.events SET version = version + 1, note = 'u\(round)-' || id, updated_at = now() WHERE id % \(10 * round + 7) = 0;
                INSERT INTO {s}.events SELECT g, now(), 1, 'new' || g FROM generate_series(\(2000 + round * 100), \(2000 + round * 100 + 49)) g;
                DELETE FROM {s}.events WHERE id % 97 = \(round);
                """)
            // Runs already started may or may not see the change; one started after it must.
            let run = try waitForNewCompletedRun(harness, id, known: try runIDs(harness, id))
            // Every row the source keeps is in the KB as the source has it (an incremental sync
            // does not see deletes: the deleted rows stay in the KB, docs/syncs.md).
            let kept = try sourceRows(scratch, table: "events")
            let keptIDs = Set(kept.map { $0.split(separator: "|")[0] })
            #expect(try hostedRows(harness, table: "ev").filter { keptIDs.contains($0.split(separator: "|")[0]) } == kept, "round \(round)")
            #expect((int(run["rows_emitted"]) ?? 0) < 2000, "an incremental run reads the changes, not the table: \(run.serialized())")
            #expect(run["mode"] == .string("upsert"))
            let job = try harness.job(string(run["job_id"]) ?? "")
            #expect(job["sync_id"] == .string(id))
        }
        // Every row ever read stays: 2,100 inserted, less the new rows deleted before a run saw them.
        let neverSeen = (2100...2149).filter { $0 % 97 == 1 }.count + (2200...2249).filter { $0 % 97 == 2 }.count
        #expect(try hostedRows(harness, table: "ev").count == 2100 - neverSeen)
        let stats = try detail(harness, id)["stats"] ?? .null
        #expect((int(stats["runs_completed"]) ?? 0) >= 3 && int(stats["runs_failed"]) == 0)
        #expect((int(stats["rows_total"]) ?? 0) >= 2000 + 2 * 50)
    }

    // MARK: full refresh

    @Test func aFullRefreshSyncReflectsDeletes() throws {
        let (harness, scratch) = try started()
        try scratch.sql("""
            CREATE TABLE {s}.items (id int PRIMARY KEY, version int NOT NULL, note text);
            INSERT INTO {s}.items SELECT g, 1, 'i' || g FROM generate_series(1, 300) g;
            """)
        let (id, _) = try create(harness, Self.body(schema: scratch.schema, table: "items", dest: "items", interval: 1, cursor: nil))
        let first = try waitForNewCompletedRun(harness, id)
        #expect(first["mode"] == .string("replace"))
        #expect(try hostedRows(harness, table: "items").count == 300)
        #expect(try detail(harness, id)["sync"]?["has_cursor"] == .bool(false))

        try scratch.sql("DELETE FROM {s}.items WHERE id % 3 = 0; UPDATE {s}.items SET version = 2, note = 'changed' WHERE id % 5 = 0")
        let run = try waitForNewCompletedRun(harness, id, known: try runIDs(harness, id))
        #expect(run["mode"] == .string("replace"))
        #expect(try hostedRows(harness, table: "items") == sourceRows(scratch, table: "items"))
        #expect(try hostedRows(harness, table: "items").count == 200)
    }

    // MARK: pause, run now, delete, adopt

    @Test func pauseStopsRunsRunNowDispatchesOneAndDeleteRemovesTheSync() throws {
        let (harness, scratch) = try started()
        try scratch.sql("""
            CREATE TABLE {s}.events (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL, version int NOT NULL, note text);
            INSERT INTO {s}.events SELECT g, '2020-01-01'::timestamptz + g * interval '1 second', 1, 'n' || g FROM generate_series(1, 50) g;
            """)
        let (id, _) = try create(harness, Self.body(schema: scratch.schema, table: "events", dest: "ev", interval: 1))
        try waitForNewCompletedRun(harness, id)

        let paused = try harness.request("PATCH", "\(syncsPath(harness))/\(id)", body: #"{"enabled": false}"#)
        #expect(paused.status == 200 && paused.json["sync"]?["enabled"] == .bool(false))
        // A run started before the pause ends on its own; after that, nothing new starts.
        #expect(try eventually(seconds: 10) {
            let state = string(try detail(harness, id)["sync"]?["last_state"])
            return ["completed", "failed", "stopped"].contains(state ?? "")
        })
        let before = try runIDs(harness, id)
        Thread.sleep(forTimeInterval: 3)
        #expect(try runIDs(harness, id) == before, "a paused sync starts no runs")

        let ran = try harness.request("POST", "\(syncsPath(harness))/\(id)/run")
        #expect(ran.status == 202 && ran.json["dispatched"] == .bool(true) && ran.json["sync_id"] == .string(id))
        let jobID = string(ran.json["job_id"]) ?? ""
        let job = try harness.waitForJob(jobID, state: "completed", seconds: 20)
        #expect(job["sync_id"] == .string(id))
        #expect(try detail(harness, id)["sync"]?["enabled"] == .bool(false), "run now does not resume")

        // Offline: the run is recorded and goes out when the connector is back.
        if let connector = harness.connector {
            kill(connector.processIdentifier, SIGKILL)
            connector.waitUntilExit()
        }
        #expect(try eventually(seconds: 10) {
            try harness.request("GET", "/orgs/org_dev/connectors/\(harness.connectorID)").json["connected"] == .bool(false)
        })
        let queued = try harness.request("POST", "\(syncsPath(harness))/\(id)/run")
        #expect(queued.status == 202 && queued.json["dispatched"] == .bool(false))
        let queuedID = string(queued.json["job_id"]) ?? ""
        #expect(try harness.job(queuedID)["state"] == .string("dispatched"))
        let again = try harness.request("POST", "\(syncsPath(harness))/\(id)/run")
        #expect(again.status == 409 && again.json["job_id"] == .string(queuedID), "one run at a time: \(again)")
        try harness.startConnector()
        try harness.waitForJob(queuedID, state: "completed", seconds: 20)

        let slower = try harness.request("PATCH", "\(syncsPath(harness))/\(id)", body: #"{"interval_secs": 3600, "enabled": true}"#)
        #expect(slower.json["sync"]?["interval_secs"] == .number("3600") && slower.json["sync"]?["enabled"] == .bool(true))

        let deleted = try harness.request("DELETE", "\(syncsPath(harness))/\(id)")
        #expect(deleted.status == 200 && deleted.json["deleted"] == .bool(true))
        #expect(try harness.request("GET", "\(syncsPath(harness))/\(id)").status == 404)
        #expect(try harness.request("GET", "/orgs/org_dev/connectors/syncs").json["syncs"] == .array([]))

        // The table stays: a new sync adopts it, from the checkpoint of the last completed job on it.
        let (adopter, adopted) = try create(harness, Self.body(schema: scratch.schema, table: "events", dest: "ev", interval: 3600))
        #expect(adopted["adopted_dest_table"] == .bool(true))
        #expect(adopted["initial_cursor"]?["kind"] != nil, "\(adopted.serialized())")
        let adoptRun = try waitForNewCompletedRun(harness, adopter)
        #expect(adoptRun["mode"] == .string("append") && (int(adoptRun["rows_emitted"]) ?? 99) < 50, "\(adoptRun.serialized())")
        #expect(try harness.request("DELETE", "\(syncsPath(harness))/\(adopter)").status == 200)

        // existing_dest replace: the first run rebuilds the table, later ones merge into it.
        let (rebuilder, rebuilt) = try create(harness, Self.body(schema: scratch.schema, table: "events", dest: "ev", interval: 1,
                                                                 extra: #", "existing_dest": "replace""#))
        #expect(rebuilt["adopted_dest_table"] == .bool(false) && rebuilt["initial_cursor"] == nil)
        let rebuild = try waitForNewCompletedRun(harness, rebuilder)
        #expect(rebuild["mode"] == .string("replace") && rebuild["rows_emitted"] == .number("50"))
        let next = try waitForNewCompletedRun(harness, rebuilder, known: try runIDs(harness, rebuilder))
        #expect(next["mode"] == .string("append"))
        #expect(try hostedRows(harness, table: "ev") == sourceRows(scratch, table: "events"))
    }

    // MARK: failures

    @Test func failedRunsCountUpAndDoubleTheInterval() throws {
        let (harness, scratch) = try started()
        let (id, _) = try create(harness, Self.body(schema: scratch.schema, table: "missing", dest: "never", interval: 1))
        var view: JSONValue = .null
        #expect(try eventually(seconds: 25) {
            view = try detail(harness, id)
            return (int(view["sync"]?["consecutive_failures"]) ?? 0) >= 3
        }, "\(view.serialized())")
        let sync = view["sync"] ?? .null
        let failures = int(sync["consecutive_failures"]) ?? 0
        #expect(int(sync["effective_interval_secs"]) == min(1 << failures, 3600))
        #expect(sync["enabled"] == .bool(true) && sync["last_success_at"] == nil)
        #expect(int(view["stats"]?["runs_failed"]) == failures)
        let failed = runs(view).filter { $0["state"] == .string("failed") }
        #expect(string(failed.first?["message"])?.contains("missing") == true, "\(failed.first?.serialized() ?? "")")

        // Runs start at least 2, then 4 seconds apart (oldest first: 1 s, then doubled per failure).
        let starts = runs(view).reversed().compactMap { string($0["created_at"]).flatMap(Self.date) }
        #expect(starts.count >= 3)
        if starts.count >= 3 {
            #expect(starts[1].timeIntervalSince(starts[0]) >= 1.99)
            #expect(starts[2].timeIntervalSince(starts[1]) >= 3.99)
            #expect(starts[1].timeIntervalSince(starts[0]) < 3.99, "not slowed by something else")
        }

        // Pausing and resuming forgives the failures.
        _ = try harness.request("PATCH", "\(syncsPath(harness))/\(id)", body: #"{"enabled": false}"#)
        let resumed = try harness.request("PATCH", "\(syncsPath(harness))/\(id)", body: #"{"enabled": true}"#)
        #expect(resumed.json["sync"]?["consecutive_failures"] == .number("0"))
        #expect(resumed.json["sync"]?["effective_interval_secs"] == .number("1"))
    }

    static func date(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }

    // MARK: validation

    @Test func badSyncRequestsAreRefusedNamingTheField() throws {
        // No connector process: the plane records runs for it and keeps them until it connects.
        let (harness, scratch) = try started(connector: false)
        let good = Self.body(schema: scratch.schema, table: "events", dest: "ev", interval: 5)
        func refused(_ body: String, path: String? = nil) throws -> DaemonHarness.Reply {
            try harness.request("POST", path ?? syncsPath(harness), body: body)
        }
        let cases: [(String, String)] = [
            (good.replacingOccurrences(of: #""interval_secs": 5"#, with: #""interval_secs": 0"#), "interval_secs: must be >= 1, got 0"),
            (good.replacingOccurrences(of: #", "interval_secs": 5"#, with: ""), "interval_secs: is required"),
            (good.replacingOccurrences(of: #""interval_secs": 5"#, with: #""interval_secs": "5""#),
             #"interval_secs: expected an integer number of seconds, got "5""#),
            (good.replacingOccurrences(of: #""interval_secs": 5"#, with: #""interval_secs": 5, "existing_dest": "merge""#),
             #"existing_dest: "merge" is not one of adopt, replace"#),
            (good.replacingOccurrences(of: #""table": "events""#, with: #""tabel": "events""#), "source.table: is required"),
            (good.replacingOccurrences(of: #""interval_secs": 5"#, with: #""interval_secs": 5, "key_columns": "id""#),
             "key_columns: expected an array of strings, got a string"),
            (Self.body(schema: scratch.schema, table: "events", dest: "ev", cursor: nil, extra: #", "start_cursor": {"kind": "integer", "value": "5"}"#),
             "start_cursor: a cursor needs source.cursor_column (a sync without one re-reads the whole table)"),
            (Self.body(schema: scratch.schema, table: "events", dest: "ev", extra: #", "start_cursor": {"kind": "integer", "value": "5", "column": "id"}"#),
             #"start_cursor.column: is "id", not the sync's source.cursor_column "updated_at""#),
        ]
        for (body, error) in cases {
            let reply = try refused(body)
            #expect(reply.status == 400 && reply.json["error"] == .string(error), "\(reply)")
        }
        #expect(try refused(good.replacingOccurrences(of: #""kb_id": 42"#, with: #""kb_id": 7"#)).status == 404)
        #expect(try refused(good, path: "/orgs/org_dev/connectors/conn_nope/syncs").status == 404)
        #expect(try refused(good, path: "/orgs/org_other/connectors/\(harness.connectorID)/syncs").status == 404)

        let (id, _) = try create(harness, good)
        let duplicate = try refused(good)
        #expect(duplicate.status == 409, "one sync per table: \(duplicate)")
        let listed = try harness.request("GET", "/orgs/org_dev/connectors/syncs")
        #expect(listed.status == 200 && listed.json["syncs"]?.serialized().contains(id) == true, "\(listed)")
        #expect(try harness.request("GET", syncsPath(harness)).json["syncs"]?.serialized().contains(id) == true)

        // Its first run waits for the connector: recorded, not sent, and it blocks another.
        #expect(try eventually(seconds: 10) { try detail(harness, id)["sync"]?["last_state"] == .string("dispatched") })
        let busy = try harness.request("POST", "\(syncsPath(harness))/\(id)/run")
        #expect(busy.status == 409 && busy.json["job_id"] != nil, "\(busy)")

        let patch = { (body: String) in try harness.request("PATCH", "\(syncsPath(harness))/\(id)", body: body) }
        let zero = try patch(#"{"interval_secs": 0}"#)
        #expect(zero.status == 400 && zero.json["error"] == .string("interval_secs: must be >= 1, got 0"))
        let notBool = try patch(#"{"enabled": "no"}"#)
        #expect(notBool.status == 400 && notBool.json["error"] == .string("enabled: expected a boolean, got a string"))
        #expect(try patch("{}").status == 400)
        for (method, suffix) in [("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/run")] {
            let reply = try harness.request(method, "\(syncsPath(harness))/sync_nope\(suffix)", body: method == "PATCH" ? #"{"enabled": true}"# : nil)
            #expect(reply.status == 404, "\(method) \(suffix): \(reply)")
        }
    }
}
