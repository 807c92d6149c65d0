import ConnectorCore
import Foundation
import SQLiteStore
import Testing

/// The daemon and the development plane as real processes over a real WebSocket channel.
@Suite("Daemon end to end", .enabled(if: TestDatabase.isAvailable, TestDatabase.skipReason), .serialized)
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
        // 3,000 rows by key, and the high-water mark's row, read again by the catch-up.
        #expect(localView["rows_emitted"] == .number("3001"))
        #expect(hostedView["rows_emitted"] == .number("3001"))
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

    @Test func everyTypeLandsTheSameInTheHostedKBAsInTheLocalOne() throws {
        let (harness, scratch) = try started()
        try scratch.sql(#"""
            CREATE TYPE {s}.mood AS ENUM ('sad', 'happy');
            CREATE TABLE {s}.typed (
                id int PRIMARY KEY, updated_at timestamptz, i8 bigint, num numeric(30,10), f8 double precision,
                nan double precision, inf double precision, b boolean, t text, raw bytea, d date, ts timestamp,
                iv interval, u uuid, jb jsonb, ints int[], texts text[], m {s}.mood, n text);
            INSERT INTO {s}.typed VALUES
              (1, '2026-06-01 12:00:00.000001+00', -9223372036854775808, 12345678901234567890.0123456789, 0.1, 'NaN', '-Infinity', true,
               E'h\u00e9llo "q" \\ back\nline\ttab 😀 \u0001', '\x00ff7f', '2026-02-28', '2026-06-01 12:34:56.5',
               '1 day 02:00:00', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"b": {"c": [1, "x\"y"]}}', ARRAY[1, NULL, 3],
               ARRAY['x', 'y "z"'], 'happy', NULL),
              (2, NULL, 0, 0, 'Infinity', 1e-300, 1e300, false, '', '\x', '0044-03-15 BC', 'infinity', 'P0D', NULL, 'null', '{}', '{}', 'sad', 'x');
            """#)
        let body = { (placement: String) in
            DaemonHarness.jobBody(table: "typed", schema: scratch.schema, dest: "typed", placement: placement)
        }
        let local = try jobID(harness.dispatch(body("local")))
        let hosted = try jobID(harness.dispatch(body("hosted")))
        try harness.waitForJob(local, state: "completed")
        try harness.waitForJob(hosted, state: "completed")
        let columns = ["id", "updated_at", "i8", "num", "f8", "nan", "inf", "b", "t", "hex(raw)", "d", "ts", "iv", "u", "jb",
                       "ints", "texts", "m", "n", "typeof(f8)", "typeof(raw)", "typeof(num)"]
        let select = "SELECT \(columns.joined(separator: ", ")) FROM typed ORDER BY id"
        let localKB = try SQLiteDatabase(path: harness.directory + "/state/kb/42.sqlite", readOnly: true)
        let localRows = try localKB.rows(select)
        let reply = try harness.request("POST", "/k2/42/query", body: JSONValue.object([("sql", .string(select))]).serialized())
        guard case .array(let hostedRows)? = reply.json["rows"] else { Issue.record("query failed: \(reply)"); return }
        #expect(hostedRows.count == 2)
        for (localRow, hostedValue) in zip(localRows, hostedRows) {
            guard case .array(let hostedRow) = hostedValue else { continue }
            for (index, (l, h)) in zip(localRow, hostedRow).enumerated() {
                let same: Bool
                switch (l, h) {
                case (.null, .null): same = true
                case (.integer(let a), .number(let b)): same = String(a) == b
                case (.real(let a), .number(let b)): same = Double(b) == a
                case (.real(let a), .string(let b)): same = String(a) == b || (a.isInfinite && b.contains("inf"))
                case (.text(let a), .string(let b)): same = a == b
                default: same = false
                }
                #expect(same, "column \(columns[index]): local \(l) hosted \(h.serialized())")
            }
        }
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

    @Test func aSecondDaemonOnTheSameStateDirIsRefused() throws {
        let (harness, _) = try started()
        let second = try ConnectorBinary.run(["run", "--config", harness.directory + "/config.json"], logDirectory: harness.directory, name: "second")
        #expect(second.status == 1 && second.stderr.contains("another daemon already runs on this state dir"), "\(second.stderr)")
        #expect(harness.connector!.isRunning)
        #expect(try harness.request("GET", "/orgs/org_dev/connectors/\(harness.connectorID)").json["connected"] == .bool(true))
    }

    @Test func aTokensNameNamesTheConnectorItEnrolls() throws {
        let harness = try DaemonHarness()
        try harness.startPlane()
        try harness.enroll(tokenBody: #"{"ttl_secs": 600, "name": "warehouse-1"}"#)
        try harness.startConnector()
        try harness.waitOnline()
        // The connector calls itself "e2e" in its hello; the name given with the token stands.
        #expect(try harness.request("GET", "/orgs/org_dev/connectors/\(harness.connectorID)").json["name"] == .string("warehouse-1"))
    }

    @Test func thePlaneRefusesBadRequestsNamingTheProblem() throws {
        let (harness, scratch) = try started()
        try seed(scratch, rows: 20)
        let noAuth = try harness.request("GET", "/orgs/org_dev/connectors", auth: false)
        #expect(noAuth.status == 401 && noAuth.json["error"] == .string("missing or invalid bearer token"))
        #expect(try harness.request("GET", "/orgs/org_other/connectors").status == 404)
        #expect(try harness.request("GET", "/orgs/org_dev/connectors/conn_nope").status == 404)
        let ttl = try harness.request("POST", "/orgs/org_dev/connectors/enrollment-tokens", body: #"{"ttl_secs": 9999999}"#)
        #expect(ttl.status == 400 && ttl.json["error"] == .string("ttl_secs: must be between 1 and 2592000 (30 days)"))
        // An unreadable body is the caller's mistake (400), a huge one is 413: never a 500.
        let notJSON = try harness.request("POST", "/orgs/org_dev/connectors/enrollment-tokens", body: "{not json")
        #expect(notJSON.status == 400, "\(notJSON)")
        let huge = try harness.request("POST", "/orgs/org_dev/connectors/\(harness.connectorID)/query",
                                       body: #"{"sql": ""# + String(repeating: "x", count: 17 << 20) + #""}"#)
        #expect(huge.status == 413 && huge.json["error"] == .string("the body is larger than 16 MiB"), "\(huge.status)")
        let badName = try harness.request("POST", "/orgs/org_dev/connectors/enrollment-tokens", body: #"{"name": 7}"#)
        #expect(badName.status == 400 && badName.json["error"] == .string("name: must be a string of 1 to 200 bytes"))
        let noSQL = try harness.request("POST", "/k2/42/query", body: "{}")
        #expect(noSQL.status == 400 && noSQL.json["error"] == .string("sql: is required"))
        #expect(try harness.request("POST", "/k2/7/query", body: #"{"sql": "SELECT 1"}"#).status == 404)
        // A hosted KB is read-only through the query route.
        let id = try jobID(harness.dispatch(DaemonHarness.jobBody(table: "events", schema: scratch.schema, dest: "ev", placement: "hosted")))
        try harness.waitForJob(id, state: "completed")
        let write = try harness.request("POST", "/k2/42/query", body: #"{"sql": "DELETE FROM ev"}"#)
        #expect(write.status == 400)
        #expect(try harness.hostedRow("SELECT count(*) FROM ev") == [.number("20")])
        // A second `create` into the same hosted table fails the job with the KB's reason, landing nothing.
        let again = try jobID(harness.dispatch(DaemonHarness.jobBody(table: "events", schema: scratch.schema, dest: "ev", placement: "hosted")))
        let failed = try harness.waitForJob(again, state: "failed")
        // The same rule, and the same words, as a local KB (one copy of the KB rules).
        #expect(failed["message"] == .string(#"hosted KB: dest_table: table "ev" already exists in hosted KB 42 (mode create); use mode append, replace or upsert, or another dest_table"#))
        #expect(try harness.hostedRow("SELECT count(*) FROM ev") == [.number("20")])
    }

    @Test func stopAbortsTheJobWithinABatchAtABatchBoundary() throws {
        let (harness, scratch) = try started()
        try seed(scratch, rows: 5_000)
        let id = try jobID(harness.dispatch(DaemonHarness.jobBody(table: "events", schema: scratch.schema, dest: "ev", placement: "local",
                                                                   batchRows: 100, pacing: #"{"batch_delay_ms": 100}"#)))
        #expect(waitUntil(seconds: 30) { harness.rowsEmitted(id) >= 300 })
        let stopped = try harness.request("POST", "/orgs/org_dev/connectors/\(harness.connectorID)/jobs/\(id)/stop")
        #expect(stopped.json == .object([("job_id", .string(id)), ("state", .string("stopped"))]))
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

    /// A daemon killed after a local job's last KB commit and before its `completed` report went
    /// out: on the next start the plane says resume, and the job is reported completed from its
    /// KB record, without reading the source again (rows added since stay for the next job).
    @Test func aLocalJobThatCompletedBeforeItsReportIsReportedWithoutReadingAgain() throws {
        let (harness, scratch) = try started()
        try seed(scratch, rows: 1_000)
        let id = try jobID(harness.dispatch(DaemonHarness.jobBody(table: "events", schema: scratch.schema, dest: "ev", placement: "local")))
        let done = try harness.waitForJob(id, state: "completed")
        kill(harness.connector!.processIdentifier, SIGKILL)
        harness.connector!.waitUntilExit()
        // Both sides as they were before the report: the job running.
        let state = try SQLiteDatabase(path: harness.directory + "/state/state.sqlite")
        try state.execute("UPDATE jobs SET state = 'running', finished_at = NULL WHERE job_id = ?", [.text(id)])
        let plane = try SQLiteDatabase(path: harness.directory + "/plane/plane.sqlite")
        try plane.execute("UPDATE jobs SET state = 'running', finished_at = NULL WHERE id = ?", [.text(id)])
        #expect(try harness.job(id)["state"] == .string("running"))
        // Rows a rerun from the checkpoint would read.
        try scratch.sql("INSERT INTO {s}.events SELECT g, '2027-01-01', 1, 'late', NULL FROM generate_series(5001, 5010) g")
        try harness.startConnector()
        let view = try harness.waitForJob(id, state: "completed", seconds: 60)
        #expect(view["rows_emitted"] == done["rows_emitted"])
        #expect(try localCount(harness, table: "ev") == [.integer(1_000), .integer(1_000)])
        #expect(harness.log("connector2.err").contains("job had completed before the connector stopped"))
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

    @Test func healthReadinessAndMetricsAreServedOnLoopback() throws {
        let scratch = try Scratch()
        try seed(scratch, rows: 1_000)
        let harness = try DaemonHarness()
        try harness.startPlane()
        try harness.enroll()
        let port = 19_400 + Int.random(in: 0..<500)
        try harness.writeConfig(metricsAddress: "127.0.0.1:\(port)")
        try harness.startConnector()
        try harness.waitOnline()
        let base = "http://127.0.0.1:\(port)"
        #expect(waitUntil(seconds: 10) { harness.get(base + "/readyz").0 == 200 })
        #expect(harness.get(base + "/healthz") == (200, "ok\n"))
        // Fifteen idle connections (a port scanner, a stuck scraper) do not hold up the next client.
        let idle = (0..<15).map { _ in IdleConnection(port: port) }
        let asked = Date()
        #expect(harness.get(base + "/healthz") == (200, "ok\n"))
        #expect(Date().timeIntervalSince(asked) < 1.5)
        withExtendedLifetime(idle) {}
        let id = try jobID(harness.dispatch(DaemonHarness.jobBody(table: "events", schema: scratch.schema, dest: "ev", placement: "local")))
        try harness.waitForJob(id, state: "completed")
        let metrics = harness.get(base + "/metrics").1
        #expect(metrics.contains("timbal_channel_up 1"))
        // The first load reads every row by key; the catch-up reads the high-water mark's value again
        // (inclusive): rows 999 and 1000 share it (updated_at = g / 3 ms), so both are read twice.
        #expect(metrics.contains("timbal_rows_extracted_total 1002"))
        #expect(metrics.contains("timbal_batch_fetch_seconds_bucket"))
        #expect(metrics.contains("timbal_batch_write_seconds_count"))
        #expect(metrics.contains("timbal_jobs_finished_total{state=\"completed\"} 1"))
        #expect(metrics.contains("timbal_last_batch_timestamp_seconds"))
        // The load by key, the segment that confirms its end (it finds no key past the last), the catch-up.
        #expect(metrics.contains("timbal_source_segments_total 3"))
        // The job has ended: no job is running any more (the gauge once stuck at 1).
        #expect(waitUntil(seconds: 5) { harness.get(base + "/metrics").1.contains("timbal_jobs{state=\"running\"} 0") })
        #expect(harness.get(base + "/nope").0 == 404)

        // The plane goes away: not ready any more, still healthy.
        harness.killPlane()
        #expect(waitUntil(seconds: 10) { harness.get(base + "/readyz").0 == 503 })
        #expect(harness.get(base + "/healthz").0 == 200)
    }

    /// A plane that stops answering (SIGSTOP: TCP is still acknowledged) is noticed by the
    /// connector's pings: not ready, channel down; the hosted job finishes exactly once when the
    /// plane is back.
    @Test func aSilentPlaneIsNoticedAndTheHostedJobFinishesExactlyOnce() throws {
        let scratch = try Scratch()
        try seed(scratch, rows: 4_000)
        let harness = try DaemonHarness()
        try harness.startPlane()
        try harness.enroll()
        let port = 19_900 + Int.random(in: 0..<90)
        try harness.writeConfig(metricsAddress: "127.0.0.1:\(port)")
        try harness.startConnector()
        try harness.waitOnline()
        let base = "http://127.0.0.1:\(port)"
        let id = try jobID(harness.dispatch(DaemonHarness.jobBody(table: "events", schema: scratch.schema, dest: "ev", placement: "hosted",
                                                                   batchRows: 100, pacing: #"{"batch_delay_ms": 30}"#)))
        #expect(waitUntil(seconds: 30) { harness.rowsEmitted(id) >= 500 })
        let plane = try #require(harness.plane)
        kill(plane.processIdentifier, SIGSTOP)
        let noticed = waitUntil(seconds: 45) { harness.get(base + "/readyz").0 == 503 }
        kill(plane.processIdentifier, SIGCONT)
        #expect(noticed, "a stopped plane was not noticed within 45 s")
        try harness.waitForJob(id, state: "completed", seconds: 120)
        #expect(try harness.hostedRow("SELECT count(*), count(DISTINCT id) FROM ev") == [.number("4000"), .number("4000")])
    }

    /// A metrics port that cannot be bound (taken) fails the start, saying so; nothing binds elsewhere.
    @Test func aMetricsPortThatCannotBeBoundFailsTheStart() throws {
        let harness = try DaemonHarness()
        try harness.startPlane()
        try harness.enroll()
        let taken = IdleListener()
        try harness.writeConfig(metricsAddress: "127.0.0.1:\(taken.port)")
        let run = try ConnectorBinary.run(["run", "--config", harness.directory + "/config.json"], logDirectory: harness.directory, name: "bind")
        #expect(run.status != 0)
        #expect(run.stderr.contains("metrics_address: cannot listen on 127.0.0.1:\(taken.port)"), "\(run.stderr)")
        withExtendedLifetime(taken) {}
    }

    /// SIGTERM while the channel waits to redial ends the daemon at once, and shutdown is no warning.
    @Test func sigtermDuringTheRedialBackOffExitsAtOnce() throws {
        let harness = try DaemonHarness()
        try harness.startPlane()
        try harness.enroll()
        try harness.startConnector()
        try harness.waitOnline()
        harness.killPlane()
        // Redials back off 0.5, 1, 2, 4 s...: wait for a wait of 3 s or more.
        let backingOff = waitUntil(seconds: 30) {
            harness.log("connector1.err").split(separator: "\n").contains { line in
                line.contains("channel down") && (line.split(separator: " ").first { $0.hasPrefix("retry.delay_s=") }
                    .flatMap { Double($0.dropFirst("retry.delay_s=".count)) } ?? 0) >= 3
            }
        }
        #expect(backingOff)
        let connector = try #require(harness.connector)
        let signalled = Date()
        kill(connector.processIdentifier, SIGTERM)
        #expect(waitUntil(seconds: 10) { !connector.isRunning })
        #expect(Date().timeIntervalSince(signalled) < 2.5, "SIGTERM waited for the back-off")
        #expect(connector.terminationStatus == 0)
        #expect(!harness.log("connector1.err").contains("CancellationError"))
    }

    @Test func enrollingWithAnUnreachablePlaneSaysSoInOneLine() throws {
        let directory = NSTemporaryDirectory() + "timbal-enroll-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let run = try ConnectorBinary.run(["enroll", "--url", "http://127.0.0.1:1", "--token", "tok_x", "--state-dir", directory + "/state"],
                                          logDirectory: directory, name: "enroll")
        #expect(run.status != 0)
        let lines = run.stderr.split(separator: "\n").filter { $0.contains("error") }
        #expect(lines.count == 1 && lines[0].contains("cannot reach the control plane at http://127.0.0.1:1: connection refused"), "\(run.stderr)")
        #expect(!run.stderr.contains("NIO") && !run.stderr.contains("SingleConnectionFailure"), "\(run.stderr)")
    }

    /// The plane hears which connection failed, never the host, port or user libpq quotes.
    @Test func aFailedConnectionIsReportedToThePlaneByItsNameOnly() throws {
        let scratch = try Scratch()
        let harness = try DaemonHarness()
        try harness.startPlane()
        let hostPort = TestDatabase.dsn.split(separator: "@").last.map { String($0.split(separator: "/").first ?? "") } ?? ""
        try harness.enroll(dsn: "postgresql://timbal_secret_user@\(hostPort)/postgres")
        try harness.startConnector()
        try harness.waitOnline()
        let id = try jobID(harness.dispatch(DaemonHarness.jobBody(table: "events", schema: scratch.schema, dest: "ev", placement: "local")))
        let view = try harness.waitForJob(id, state: "failed")
        guard case .string(let message)? = view["message"] else { throw HarnessError("no message: \(view)") }
        #expect(message.contains("connection \"pg\""), "\(message)")
        for secret in ["timbal_secret_user", hostPort, String(hostPort.split(separator: ":").last ?? "")] {
            #expect(!message.contains(secret), "\(message)")
        }
        // The operator's own log keeps the detail.
        #expect(harness.log("connector1.err").contains("timbal_secret_user"))
    }

    /// Parsed by the system's own parser: a lenient prefix check once bound 0.0.0.0 for `127.0.0.256`.
    @Test(arguments: ["0.0.0.0:9464", "127.0.0.256:19491", "127.evil:19492", "localhost:0"])
    func aMetricsAddressOffTheLoopbackIsRefusedAtStart(address: String) throws {
        let harness = try DaemonHarness()
        try harness.startPlane()
        try harness.enroll()
        try harness.writeConfig(metricsAddress: address)
        let result = try ConnectorBinary.run(["run", "--config", harness.directory + "/config.json"], logDirectory: harness.directory, name: "refused")
        #expect(result.status == 1)
        #expect(result.stderr.contains("metrics_address: expected a loopback IPv4 address and a port like 127.0.0.1:9464, got \"\(address)\""))
    }

    @Test func checkReportsEachConnectionAndThePlaneAndFailsWhenOneIsWrong() throws {
        let scratch = try Scratch()
        try seed(scratch, rows: 10)
        let harness = try DaemonHarness()
        try harness.startPlane()
        try harness.enroll()
        let arguments = ["check", "--config", harness.directory + "/config.json", "--log-level", "warning"]
        let good = try ConnectorBinary.run(arguments, logDirectory: harness.directory, name: "check1")
        #expect(good.status == 0, "\(good.stdout)\(good.stderr)")
        #expect(good.stdout.contains("ok    connection pg: PostgreSQL 15") || good.stdout.contains("ok    connection pg: PostgreSQL 1"))
        #expect(good.stdout.contains("read-only session"))
        // The tests connect as a superuser: check says what an ad-hoc query could do with that.
        #expect(good.stdout.contains("warn  connection pg: the role holds superuser"), "\(good.stdout)")
        #expect(good.stdout.contains("ok    control plane: \(harness.baseURL.replacingOccurrences(of: "http", with: "ws"))/v1/connect/channel accepts connector \(harness.connectorID)"))

        try #"""
            {"pg": {"dsn": "\#(TestDatabase.dsn)", "allow": {"tables": ["\#(scratch.schema).events", "\#(scratch.schema).missing", "pg_catalog.pg_class"]}},
             "down": {"dsn": "postgresql://nobody:pw-s3cret@127.0.0.1:1/x", "connect_timeout_s": 2}}
            """#.write(toFile: harness.directory + "/connections.json", atomically: true, encoding: .utf8)
        harness.killPlane()
        let bad = try ConnectorBinary.run(arguments, logDirectory: harness.directory, name: "check2")
        #expect(bad.status == 1)
        #expect(bad.stdout.contains("FAIL  connection pg: PostgreSQL"))
        // A system table the allow-list names counts like any other (system schemas are read only then).
        #expect(bad.stdout.contains("2 tables readable; cannot read allowed \(scratch.schema).missing"), "\(bad.stdout)")
        #expect(bad.stdout.contains("FAIL  connection down: postgres: could not connect"))
        #expect(bad.stdout.contains("FAIL  control plane: cannot reach"))
        #expect(!bad.stdout.contains("pw-s3cret") && !bad.stderr.contains("pw-s3cret"))
    }

    @Test func checkWarnsOfRecentJobsWhoseCursorHasNoIndex() throws {
        let (harness, scratch) = try started()
        try seed(scratch, rows: 100)
        try scratch.sql("CREATE TABLE {s}.plain AS SELECT * FROM {s}.events; ALTER TABLE {s}.plain ADD PRIMARY KEY (id)")
        let indexed = try jobID(harness.dispatch(DaemonHarness.jobBody(table: "events", schema: scratch.schema, dest: "a", placement: "local")))
        let unindexed = try jobID(harness.dispatch(DaemonHarness.jobBody(table: "plain", schema: scratch.schema, dest: "b", placement: "local")))
        try harness.waitForJob(indexed, state: "completed")
        try harness.waitForJob(unindexed, state: "completed")
        let check = try ConnectorBinary.run(["check", "--config", harness.directory + "/config.json", "--log-level", "warning"],
                                            logDirectory: harness.directory, name: "check")
        #expect(check.status == 0, "\(check.stdout)")
        let warnings = check.stdout.split(separator: "\n").filter { $0.hasPrefix("warn  job") }
        #expect(warnings.count == 1 && warnings.first?.contains("job \(unindexed): \(scratch.schema).plain has no index leading with cursor \"updated_at\"") == true,
                "\(check.stdout)")
        // The check's probe did not take the daemon's place on the plane: it is still connected
        // and still answers requests.
        let view = try harness.request("GET", "/orgs/org_dev/connectors/\(harness.connectorID)").json
        #expect(view["connected"] == .bool(true))
        let names = try harness.request("GET", "/orgs/org_dev/connectors/\(harness.connectorID)/browse/connections")
        #expect(names.status == 200 && names.json["connections"] == .array([.string("pg")]), "\(names)")
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

/// A TCP connection that connects and then says nothing.
final class IdleConnection {
    let descriptor: Int32
    init(port: Int) {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }
    deinit { close(descriptor) }
}

/// A loopback port held by a listener of the test's own.
final class IdleListener {
    let descriptor: Int32
    private(set) var port = 0
    init() {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        listen(descriptor, 1)
        var bound = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        port = Int(UInt16(bigEndian: bound.sin_port))
    }
    deinit { close(descriptor) }
}
