import ConnectorCore
import Foundation
import Testing

/// Browse, query and pushed configuration: the devplane's routes answered by a real connector
/// process over a real channel, against a real Postgres.
@Suite("Browse, query, config push", .enabled(if: TestDatabase.isAvailable, TestDatabase.skipReason), .serialized)
struct PlaneRequestsTests {
    static let password = "pw-never-shown-42"

    /// The test DSN with a password added (trust auth ignores it): it must never come back.
    static var dsnWithPassword: String {
        TestDatabase.dsn.replacingOccurrences(of: "postgresql://postgres@", with: "postgresql://postgres:\(password)@")
    }

    func started(_ scratch: Scratch) throws -> DaemonHarness {
        let harness = try DaemonHarness()
        try harness.startPlane()
        try harness.enroll()
        let dsn = Self.dsnWithPassword
        try """
            {"pg": {"dsn": "\(dsn)"},
             "writer": {"dsn": "\(dsn)", "query": "write"},
             "narrow": {"dsn": "\(dsn)", "allow": {"tables": ["\(scratch.schema).orders"]}}}
            """.write(toFile: harness.directory + "/connections.json", atomically: true, encoding: .utf8)
        try harness.startConnector()
        try harness.waitOnline()
        return harness
    }

    func seed(_ scratch: Scratch) throws {
        try scratch.sql("""
            CREATE TABLE {s}.customers (id int PRIMARY KEY, email varchar(80) UNIQUE NOT NULL);
            CREATE TABLE {s}.orders (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                customer_id int NOT NULL REFERENCES {s}.customers (id) ON DELETE CASCADE,
                amount numeric(12,2) NOT NULL DEFAULT 0 CHECK (amount >= 0),
                note text, payload jsonb, raw bytea, created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz,
                doubled numeric GENERATED ALWAYS AS (amount * 2) STORED);
            CREATE INDEX orders_updated ON {s}.orders (updated_at);
            COMMENT ON TABLE {s}.orders IS 'one row per order';
            COMMENT ON COLUMN {s}.orders.note IS 'free text';
            INSERT INTO {s}.customers SELECT g, 'c' || g || '@example.com' FROM generate_series(1, 5) g;
            INSERT INTO {s}.orders (customer_id, amount, note, payload, raw, updated_at)
                SELECT 1 + g % 5, g * 1.25, 'n' || g, '{"k": 1}', '\\x0102', '2026-01-01T00:00:00Z'::timestamptz + g * interval '1 s'
                FROM generate_series(1, 1200) g;
            ANALYZE {s}.orders;
            """)
    }

    func get(_ harness: DaemonHarness, _ path: String) throws -> DaemonHarness.Reply {
        try harness.request("GET", "/orgs/org_dev/connectors/\(harness.connectorID)\(path)")
    }

    func post(_ harness: DaemonHarness, _ path: String, _ body: JSONValue) throws -> DaemonHarness.Reply {
        try harness.request("POST", "/orgs/org_dev/connectors/\(harness.connectorID)\(path)", body: body.serialized())
    }

    func column(_ view: JSONValue, _ name: String) -> JSONValue? {
        guard case .array(let columns)? = view["columns"] else { return nil }
        return columns.first { $0["name"] == .string(name) }
    }

    @Test func browseAnswersNamesTablesColumnsAndDetailWithoutSystemSchemas() throws {
        let scratch = try Scratch()
        try seed(scratch)
        let harness = try started(scratch)
        let s = scratch.schema

        let connections = try get(harness, "/browse/connections")
        #expect(connections.status == 200)
        #expect(connections.json["connections"] == .array([.string("narrow"), .string("pg"), .string("writer")]))

        let tables = try get(harness, "/browse/tables?connection_ref=pg")
        guard case .array(let list)? = tables.json["tables"] else { Issue.record("tables: \(tables)"); return }
        #expect(list.contains(.object([("schema", .string(s)), ("name", .string("orders")), ("approx_rows", .number("1200"))])))
        #expect(!list.contains { $0["schema"] == .string("pg_catalog") || $0["schema"] == .string("information_schema") })
        // The allow-list narrows what is listed.
        let narrow = try get(harness, "/browse/tables?connection_ref=narrow")
        #expect(narrow.json["tables"] == .array([.object([("schema", .string(s)), ("name", .string("orders")), ("approx_rows", .number("1200"))])]))
        #expect(try get(harness, "/browse/columns?connection_ref=narrow&schema=\(s)&table=customers").status == 403)

        let columns = try get(harness, "/browse/columns?connection_ref=pg&schema=\(s)&table=orders")
        #expect(columns.status == 200, "\(columns)")
        let id = column(columns.json, "id"), amount = column(columns.json, "amount"), updated = column(columns.json, "updated_at")
        #expect(id?["pk_position"] == .number("1") && id?["unique"] == .bool(true) && id?["identity"] == .bool(true))
        #expect(id?["cursor_candidate"] == .bool(true) && id?["cursor_indexed"] == .bool(true) && id?["nullable"] == .bool(false))
        #expect(amount?["data_type"] == .string("numeric(12,2)") && amount?["numeric_precision"] == .number("12"))
        #expect(amount?["numeric_scale"] == .number("2") && amount?["default"] == .string("0"))
        #expect(updated?["cursor_candidate"] == .bool(true) && updated?["cursor_indexed"] == .bool(true))
        #expect(column(columns.json, "created_at")?["cursor_indexed"] == .bool(false))
        #expect(column(columns.json, "payload")?["cursor_candidate"] == .bool(false))
        #expect(column(columns.json, "note")?["comment"] == .string("free text") && column(columns.json, "note")?["max_length"] == .number("-1"))
        #expect(column(columns.json, "doubled")?["generated"] == .bool(true))
        let customers = try get(harness, "/browse/columns?connection_ref=pg&schema=\(s)&table=customers")
        #expect(column(customers.json, "email")?["unique"] == .bool(true) && column(customers.json, "email")?["max_length"] == .number("80"))
        // A nullable UNIQUE column may repeat NULL: not unique on its own.
        try scratch.sql("ALTER TABLE {s}.customers ADD COLUMN code text UNIQUE")
        let nullable = try get(harness, "/browse/columns?connection_ref=pg&schema=\(s)&table=customers")
        #expect(column(nullable.json, "code")?["unique"] == .bool(false))

        let detail = try get(harness, "/browse/table?connection_ref=pg&schema=\(s)&table=orders")
        #expect(detail.status == 200 && detail.json["comment"] == .string("one row per order"))
        if case .number(let size)? = detail.json["size_bytes"] { #expect((Int(size) ?? 0) > 8192) } else { Issue.record("size_bytes: \(detail)") }
        guard case .array(let indexes)? = detail.json["indexes"], case .array(let keys)? = detail.json["foreign_keys"],
              case .array(let checks)? = detail.json["check_constraints"] else { Issue.record("detail: \(detail)"); return }
        #expect(indexes.contains { $0["primary"] == .bool(true) && $0["columns"] == .array([.string("id")]) && $0["kind"] == .string("btree") })
        #expect(indexes.contains { $0["name"] == .string("orders_updated") && $0["unique"] == .bool(false) })
        #expect(keys.first?["ref_table"] == .string("customers") && keys.first?["ref_columns"] == .array([.string("id")]))
        #expect(keys.first?["on_delete"] == .string("CASCADE") && keys.first?["columns"] == .array([.string("customer_id")]))
        #expect(checks.first?["definition"] == .string("CHECK (amount >= 0::numeric)"))

        // System catalogs are neither browsed nor extracted unless the allow-list names them.
        #expect(try get(harness, "/browse/columns?connection_ref=pg&schema=pg_catalog&table=pg_authid").status == 403)
        let copy = try harness.dispatch("""
            {"kb_id": 42, "dest_table": "hashes", "placement": "local",
             "source": {"kind": "postgres", "connection_ref": "pg", "schema": "pg_catalog", "table": "pg_authid"}}
            """)
        guard case .string(let jobID)? = copy.json["job_id"] else { Issue.record("dispatch: \(copy)"); return }
        let failed = try harness.waitForJob(jobID, state: "failed")
        #expect(failed["message"]?.stringValue?.contains("system schema") == true, "\(failed)")

        #expect(try get(harness, "/browse/columns?connection_ref=pg&schema=\(s)&table=nope").status == 404)
        #expect(try get(harness, "/browse/columns?connection_ref=pg&schema=pg_catalog%00x&table=pg_authid").status == 400)
        #expect(try get(harness, "/browse/tables?connection_ref=nope").status == 404)
        #expect(try get(harness, "/browse/tables").status == 400)
        expectNoSecret(harness)
    }

    @Test func queryAnswersCapsRefusesWritesInReadModeAndKeepsTheSQLSTATE() throws {
        let scratch = try Scratch()
        try seed(scratch)
        let harness = try started(scratch)
        let s = scratch.schema
        func query(_ sql: String, _ extra: [(String, JSONValue)] = [], ref: String = "pg") throws -> DaemonHarness.Reply {
            try post(harness, "/query", .object([("connection_ref", .string(ref)), ("sql", .string(sql))] + extra))
        }

        let typed = try query("SELECT id, amount, note, payload, raw, updated_at, true AS flag, NULL::int AS nothing, 'NaN'::float8 AS nan FROM \(s).orders ORDER BY id LIMIT 2")
        #expect(typed.status == 200, "\(typed)")
        #expect(typed.json["columns"]?.arrayValue?.map { $0["data_type"] } == [
            .string("int8"), .string("numeric"), .string("text"), .string("jsonb"), .string("bytea"), .string("timestamptz"),
            .string("bool"), .string("int4"), .string("float8")])
        #expect(typed.json["rows"]?.arrayValue?.first == .array([
            .number("1"), .string("1.25"), .string("n1"), .string("{\"k\": 1}"), .string("0x0102"),
            .string("2026-01-01T00:00:01.000000Z"), .bool(true), .null, .string("NaN")]))
        #expect(typed.json["row_count"] == .number("2") && typed.json["truncated"] == .bool(false))

        // The default cap is 500 rows; max_rows lowers it; the ceiling is 10,000.
        let capped = try query("SELECT id FROM \(s).orders ORDER BY id")
        #expect(capped.json["row_count"] == .number("500") && capped.json["truncated"] == .bool(true))
        let three = try query("SELECT id FROM \(s).orders ORDER BY id", [("max_rows", .number("3"))])
        #expect(three.json["rows"] == .array([.array([.number("1")]), .array([.number("2")]), .array([.number("3")])]))
        let tooMany = try query("SELECT 1", [("max_rows", .number("10001"))])
        #expect(tooMany.status == 400 && tooMany.json["error"]?.stringValue?.hasPrefix("max_rows:") == true, "\(tooMany)")

        // A batch answers with its last row-returning result; semicolons in strings and comments do not split it.
        let batch = try query("SELECT 1 AS a; -- a comment; with a semicolon\nSELECT 'x;y' AS b, $$;$$ AS c; SET LOCAL work_mem = '8MB'")
        #expect(batch.json["columns"]?.arrayValue?.map { $0["name"] } == [.string("b"), .string("c")], "\(batch)")
        #expect(batch.json["rows"] == .array([.array([.string("x;y"), .string(";")])]))

        // Read mode: writes fail as the server says, and no trick turns the transaction read-write.
        let write = try query("UPDATE \(s).orders SET note = 'changed' WHERE id = 1")
        #expect(write.status == 400 && write.json["sqlstate"] == .string("25006"), "\(write)")
        let commitTrick = try query("COMMIT; SET default_transaction_read_only = off; UPDATE \(s).orders SET note = 'changed' WHERE id = 1")
        #expect(commitTrick.status == 403, "\(commitTrick)")
        let setTrick = try query("SET transaction_read_only = off; UPDATE \(s).orders SET note = 'changed' WHERE id = 1")
        #expect(setTrick.status == 403, "\(setTrick)")
        #expect(try scratch.sql("SELECT count(*) FROM {s}.orders WHERE note = 'changed'").string(0, 0) == "0")

        // Transaction control is refused (COMMIT AND CHAIN then SET TRANSACTION READ WRITE would
        // otherwise write in read mode), as are COPY and, in read mode, LOCK; a NUL would cut SQL short.
        for trick in ["COMMIT AND CHAIN; SET TRANSACTION READ WRITE; UPDATE \(s).orders SET note = 'changed' WHERE id = 1",
                      "ROLLBACK AND CHAIN; UPDATE \(s).orders SET note = 'changed'", "/* x */ savepoint a",
                      "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE", "PREPARE TRANSACTION 'x'",
                      "COPY (SELECT 1) TO STDOUT", "copy \(s).orders TO PROGRAM 'true'",
                      "LOCK TABLE \(s).orders IN ACCESS EXCLUSIVE MODE",
                      // The server ends a -- comment at CR too, and CRLF is two bytes to it (one Character to Swift).
                      "-- note\r\nCOMMIT AND CHAIN; SET transaction_read_only = off; UPDATE \(s).orders SET note = 'changed' WHERE id = 1",
                      "--x\rCOMMIT\nAND CHAIN; UPDATE \(s).orders SET note = 'changed' WHERE id = 1",
                      "-- c\r\nCOPY (SELECT 1) TO PROGRAM 'true'", "-- c\r\nLOCK \(s).orders", "SET transaction_read_only = off"] {
            let refused = try query(trick)
            #expect(refused.status == 403 && refused.json["code"] == .string("forbidden"), "\(trick): \(refused)")
        }
        let nul = try query("DELETE FROM \(s).orders \u{0}WHERE id = 1", [("mode", .string("write"))], ref: "writer")
        #expect(nul.status == 400 && nul.json["error"] == .string("sql: must not contain a NUL character"), "\(nul)")
        #expect(try scratch.sql("SELECT count(*) FROM {s}.orders WHERE note = 'changed'").string(0, 0) == "0")
        #expect(try scratch.sql("SELECT count(*) FROM {s}.orders").string(0, 0) == "1200")
        let crlf = try query("UPDATE \(s).orders SET note = 'half' WHERE id = 1; -- c\r\nCOMMIT AND CHAIN; SELECT 1/0", [("mode", .string("write"))], ref: "writer")
        #expect(crlf.status == 403, "\(crlf)")
        // A COMMIT in a write batch is refused before anything runs: the batch stays one transaction.
        let halfCommit = try query("UPDATE \(s).orders SET note = 'half' WHERE id = 1; COMMIT; SELECT 1/0", [("mode", .string("write"))], ref: "writer")
        let halves = { try scratch.sql("SELECT count(*) FROM {s}.orders WHERE note = 'half'").string(0, 0) }
        #expect(halfCommit.status == 403)
        #expect(try halves() == "0")
        let failing = try query("UPDATE \(s).orders SET note = 'half' WHERE id = 1; SELECT 1/0", [("mode", .string("write"))], ref: "writer")
        #expect(failing.json["sqlstate"] == .string("22012"))
        #expect(try halves() == "0")
        // The slots are free again: a plain query still answers.
        #expect(try query("SELECT 1").status == 200)

        // A preview reads what it shows (a cursor), not the whole table: the server's own counter.
        // (A table of its own, which nothing else scans.)
        try scratch.sql("CREATE TABLE {s}.big AS SELECT g, md5(g::text) AS h FROM generate_series(1, 20000) g")
        func tuplesRead() throws -> Int64 {
            _ = try scratch.sql("SELECT pg_stat_clear_snapshot()")
            return Int64(try scratch.sql("SELECT coalesce(seq_tup_read, 0) FROM pg_stat_user_tables WHERE relid = '{s}.big'::regclass").string(0, 0) ?? "0") ?? 0
        }
        let before = try tuplesRead()
        let preview = try query("SELECT * FROM \(s).big", [("max_rows", .number("5"))])
        #expect(preview.json["row_count"] == .number("5") && preview.json["truncated"] == .bool(true))
        var after = before
        _ = waitUntil(seconds: 5) { after = (try? tuplesRead()) ?? before; return after > before }
        #expect(after > before && after - before < 1000, "a 5-row preview read \(after - before) of 20,000 rows")
        let withBefore = try tuplesRead()
        let withPreview = try query("WITH t AS (SELECT * FROM \(s).big) SELECT * FROM t", [("max_rows", .number("5"))])
        #expect(withPreview.json["row_count"] == .number("5") && withPreview.json["truncated"] == .bool(true))
        var withAfter = withBefore
        _ = waitUntil(seconds: 5) { withAfter = (try? tuplesRead()) ?? withBefore; return withAfter > withBefore }
        #expect(withAfter - withBefore < 1000, "a 5-row WITH preview read \(withAfter - withBefore) of 20,000 rows")
        // The byte cap (8 MiB) ends a preview of huge rows early; the first row always fits.
        let huge = try query("SELECT repeat('x', 3000000) AS big FROM generate_series(1, 100)", [("max_rows", .number("100"))])
        #expect(huge.json["row_count"] == .number("2") && huge.json["truncated"] == .bool(true), "\(huge.json["row_count"] ?? .null)")
        // Rows of no columns are rows.
        #expect(try query("SELECT FROM generate_series(1, 5)").json["row_count"] == .number("5"))

        // Write mode needs the connection's policy.
        let refused = try query("UPDATE \(s).orders SET note = 'changed' WHERE id <= 3", [("mode", .string("write"))])
        #expect(refused.status == 403 && refused.json["error"]?.stringValue?.contains("query") == true, "\(refused)")
        let allowed = try query("UPDATE \(s).orders SET note = 'changed' WHERE id <= 3", [("mode", .string("write"))], ref: "writer")
        #expect(allowed.status == 200 && allowed.json["rows_affected"] == .number("3"), "\(allowed)")
        let returning = try query("UPDATE \(s).orders SET note = 'changed' WHERE id <= 3 RETURNING id", [("mode", .string("write"))], ref: "writer")
        #expect(returning.json["rows_affected"] == .number("3") && returning.json["row_count"] == .number("3"), "\(returning)")
        #expect(try scratch.sql("SELECT count(*) FROM {s}.orders WHERE note = 'changed'").string(0, 0) == "3")

        // Statement errors keep their SQLSTATE and say nothing of the connection.
        let missing = try query("SELECT * FROM \(s).nope")
        #expect(missing.status == 400 && missing.json["sqlstate"] == .string("42P01"), "\(missing)")
        let slow = try query("SELECT pg_sleep(5)", [("timeout_ms", .number("300"))])
        #expect(slow.status == 400 && slow.json["sqlstate"] == .string("57014"), "\(slow)")
        let unknownRef = try query("SELECT 1", ref: "nope")
        #expect(unknownRef.status == 404, "\(unknownRef)")
        expectNoSecret(harness)
    }

    @Test func aPushedConfigIsValidatedAppliedToTheNextJobAndNeverEchoed() throws {
        let scratch = try Scratch()
        try seed(scratch)
        let harness = try started(scratch)
        let connectionsFile = harness.directory + "/connections.json"
        let before = try String(contentsOfFile: connectionsFile, encoding: .utf8)

        // A bad map is refused naming the key, and the file is left as it was.
        let bad = try post(harness, "/local-config", .object([("connections", .object([("fresh", .object([("dsn", .number("1"))]))]))]))
        #expect(bad.status == 202 && bad.json["dispatched"] == .bool(true), "\(bad)")
        let refused = waitForPush(harness) { $0["state"] == .string("refused") }
        #expect(refused?["message"]?.stringValue?.contains("fresh.dsn") == true, "\(String(describing: refused))")
        #expect(try String(contentsOfFile: connectionsFile, encoding: .utf8) == before)

        // A good one replaces the map; the next job uses it, with no reconnect.
        let good = JSONValue.object([("connections", .object([("fresh", .object([("dsn", .string(Self.dsnWithPassword))]))]))])
        #expect(try post(harness, "/local-config", good).status == 202)
        let applied = waitForPush(harness) { $0["state"] == .string("applied") }
        #expect(applied?["connections"] == .array([.string("fresh")]), "\(String(describing: applied))")
        // Kept in the state dir (the config dir is read-only under systemd), 0600; the operator's file is untouched.
        var mode = stat()
        #expect(stat(harness.directory + "/state/connections.pushed.json", &mode) == 0 && mode.st_mode & 0o777 == 0o600)
        #expect(try String(contentsOfFile: connectionsFile, encoding: .utf8) == before)
        let job = try harness.dispatch("""
            {"kb_id": 42, "dest_table": "orders", "placement": "local",
             "source": {"kind": "postgres", "connection_ref": "fresh", "schema": "\(scratch.schema)", "table": "orders", "cursor_column": "id"}}
            """)
        guard case .string(let jobID)? = job.json["job_id"] else { Issue.record("dispatch: \(job)"); return }
        #expect(try harness.waitForJob(jobID, state: "completed")["rows_emitted"] == .number("1200"))
        #expect(try get(harness, "/browse/connections").json["connections"] == .array([.string("fresh")]))
        #expect(harness.log("connector1.err").contains("channel up") && !harness.log("connector1.err").contains("channel down"))
        let pushes = try get(harness, "/local-config")
        #expect(!pushes.json.serialized().contains(Self.password))
        expectNoSecret(harness)
    }

    @Test func aPushedDSNLibpqCannotParseIsRefusedAndAWarningReachesTheVerdict() throws {
        let scratch = try Scratch()
        let harness = try started(scratch)
        let connectionsFile = harness.directory + "/connections.json"
        let before = try String(contentsOfFile: connectionsFile, encoding: .utf8)
        let broken = ["host=127.0.0.1 port", "host=127.0.0.1 sslmdoe=disable password=\(Self.password)"]
        for (index, dsn) in broken.enumerated() {
            let push = JSONValue.object([("connections", .object([("shop\(index)", .object([("dsn", .string(dsn))]))]))])
            #expect(try post(harness, "/local-config", push).status == 202)
            let refused = waitForPush(harness) { $0["state"] == .string("refused") && $0["message"]?.stringValue?.contains("shop\(index)") == true }
            let message = refused?["message"]?.stringValue ?? ""
            #expect(message.contains("shop\(index).dsn") && message.contains("libpq"), "\(message)")
            #expect(index == 0 || message.contains("sslmdoe"), "\(message)")
        }
        #expect(try String(contentsOfFile: connectionsFile, encoding: .utf8) == before)
        #expect(!FileManager.default.fileExists(atPath: harness.directory + "/state/connections.pushed.json"))
        // A misspelt optional key is applied, and the connector's warning is in the verdict.
        let misspelt = JSONValue.object([("connections", .object([("shop", .object([("dsn", .string(TestDatabase.dsn)), ("qurey", .string("read"))]))]))])
        #expect(try post(harness, "/local-config", misspelt).status == 202)
        let applied = waitForPush(harness) { $0["state"] == .string("applied") }
        #expect(applied?["message"]?.stringValue?.contains("qurey") == true, "\(String(describing: applied))")
        expectNoSecret(harness)
    }

    /// A connector that stops answering (SIGSTOP: its socket stays open, nothing comes back) does
    /// not hang a request: the plane's pings give it up and the route answers 422.
    @Test func aSilentConnectorIsGivenUpOnNotWaitedForForEver() throws {
        let scratch = try Scratch()
        let harness = try started(scratch)
        #expect(try get(harness, "/browse/connections").status == 200)
        kill(harness.connector!.processIdentifier, SIGSTOP)
        defer { kill(harness.connector!.processIdentifier, SIGCONT) }
        let started = Date()
        let silent = try get(harness, "/browse/connections")
        #expect(silent.status == 422 || silent.status == 504, "\(silent)")
        #expect(Date().timeIntervalSince(started) < 70, "the request waited past its own deadline")
        kill(harness.connector!.processIdentifier, SIGCONT)
        // Awake again, it redials and answers.
        #expect(waitUntil(seconds: 60) { (try? get(harness, "/browse/connections").status) == 200 })
    }

    func waitForPush(_ harness: DaemonHarness, _ matches: (JSONValue) -> Bool) -> JSONValue? {
        var found: JSONValue?
        _ = waitUntil(seconds: 30) {
            guard case .array(let pushes)? = (try? get(harness, "/local-config"))?.json["pushes"], let latest = pushes.first,
                  latest["state"] != .string("pending") else { return false }
            found = latest
            return matches(latest)
        }
        return found
    }

    /// No answer above was checked without this: the password is in no log or state file either.
    func expectNoSecret(_ harness: DaemonHarness) {
        let files = (FileManager.default.enumerator(atPath: harness.directory)?.allObjects as? [String]) ?? []
        for file in files where file.hasSuffix(".out") || file.hasSuffix(".err") || file.hasSuffix(".sqlite") {
            let bytes = FileManager.default.contents(atPath: harness.directory + "/" + file) ?? Data()
            #expect(!String(decoding: bytes, as: UTF8.self).contains(Self.password), "\(file)")
        }
    }
}

extension JSONValue {
    var stringValue: String? { if case .string(let text) = self { return text }; return nil }
    var arrayValue: [JSONValue]? { if case .array(let items) = self { return items }; return nil }
}
