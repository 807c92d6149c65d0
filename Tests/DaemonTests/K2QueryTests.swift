import ChannelProtocol
import DevPlane
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import TimbalModel

/// `/k2/{kb_id}/query` takes SQL from whoever holds the admin token: it reads a hosted KB and
/// nothing else (no file written, attached or vacuumed into, no writing pragma), ends at its
/// deadline without holding the plane, and its errors never show the plane's paths.
@Suite("k2 queries are read-only and bounded", .serialized)
struct K2QueryTests {
    typealias Plane = ChannelClientTests.Plane
    typealias Failure = ChannelClientTests.Failure

    func post(_ plane: Plane, _ path: String, _ body: JSONValue) async throws -> (status: Int, body: JSONValue) {
        var request = URLRequest(url: URL(string: plane.url + path)!)
        request.httpMethod = "POST"
        request.setValue("Bearer admin", forHTTPHeaderField: "Authorization")
        request.httpBody = Data(body.serialized().utf8)
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, try JSONParser.parse(Array(data)))
    }

    func query(_ plane: Plane, _ sql: String, timeoutMs: Int? = nil) async throws -> (status: Int, body: JSONValue) {
        var body: [(String, JSONValue)] = [("sql", .string(sql))]
        if let timeoutMs { body.append(("timeout_ms", .number(String(timeoutMs)))) }
        return try await post(plane, "/k2/42/query", .object(body))
    }

    /// A plane whose KB 42 holds `orders` with two rows, landed through a real channel.
    func planeWithData() async throws -> Plane {
        let plane = try await Plane()
        let (_, credential) = try await plane.enroll(stateDir: plane.directory + "/owner")
        let dispatched = try await plane.call("POST", "/orgs/org_dev/connectors/\(credential.connectorID)/jobs?skip_checks=true", """
            {"kb_id": 42, "dest_table": "orders", "placement": "hosted", "mode": "append", "key_columns": ["id"],
             "source": {"kind": "postgres", "connection_ref": "shop", "table": "orders", "cursor_column": "id"}}
            """)
        guard case .string(let jobID)? = dispatched["job_id"] else { throw Failure("dispatch: \(dispatched)") }
        try await HostileChannel.open(plane.url, secret: credential.secret) { channel in
            _ = try await channel.hello()
            try await channel.sendBatch(.orders(job: jobID, seq: 1), rows: #"[[1, "a"], [2, "b"]]"#)
            guard case .batchAck? = try await channel.next() else { throw Failure("not landed") }
        }
        return plane
    }

    @Test func readsWork() async throws {
        let plane = try await planeWithData()
        let answer = try await query(plane, "SELECT id, note FROM orders ORDER BY id")
        #expect(answer.status == 200 && answer.body["row_count"] == .number("2"))
        let columns = try await query(plane, "SELECT name FROM pragma_table_info('orders')")
        #expect(columns.status == 200 && columns.body["row_count"] == .number("2"), "\(columns.body)")
    }

    @Test(arguments: [
        "VACUUM INTO '%DIR%/copy.sqlite'",
        "ATTACH '%DIR%/attached.sqlite' AS p",
        "SELECT 1; ATTACH '%DIR%/attached.sqlite' AS p",
        "PRAGMA journal_mode = DELETE",
        "PRAGMA user_version = 7",
        "PRAGMA temp_store_directory = '%DIR%'",
        "CREATE TEMP TABLE t AS SELECT * FROM orders",
        "DELETE FROM orders",
        "BEGIN IMMEDIATE",
        "SELECT load_extension('%DIR%/x')",
    ])
    func whatWritesOrReachesFilesIsRefused(sql: String) async throws {
        let plane = try await planeWithData()
        let answer = try await query(plane, sql.replacingOccurrences(of: "%DIR%", with: plane.directory))
        #expect(answer.status == 400)
        guard case .string(let message)? = answer.body["error"] else { throw Failure("no error: \(answer.body)") }
        #expect(!message.contains(plane.directory), "the error shows a host path: \(message)")
        for file in ["copy.sqlite", "attached.sqlite"] {
            #expect(!FileManager.default.fileExists(atPath: plane.directory + "/" + file))
        }
        let rows = try await query(plane, "SELECT count(*) FROM orders")
        #expect(rows.body["rows"] == .array([.array([.number("2")])]))
    }

    @Test func aQueryThatNeverEndsIsInterruptedAndThePlaneKeepsAnswering() async throws {
        let plane = try await planeWithData()
        let forever = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
        let started = Date()
        // Two at once: on two cores they held every thread of the server's pool.
        async let first = query(plane, forever, timeoutMs: 2000)
        async let second = query(plane, forever, timeoutMs: 2000)
        try await Task.sleep(for: .milliseconds(300))
        let health = try await plane.call("GET", "/healthz")
        #expect(health["status"] == .string("ok"))
        #expect(Date().timeIntervalSince(started) < 1.5, "healthz waited for the queries")
        for answer in try await [first, second] {
            #expect(answer.status == 400)
            #expect(answer.body["error"] == .string("sql: the query ran past its 2000 ms deadline and was interrupted"))
        }
        #expect(Date().timeIntervalSince(started) < 10)
    }

    @Test func anUnknownKBAndAMissingFileSayNoPath() async throws {
        let plane = try await Plane()
        let answer = try await query(plane, "SELECT 1")
        #expect(answer.status == 400 && answer.body["error"] == .string("kb_id: hosted KB 42 has no data yet"))
        let unknown = try await post(plane, "/k2/31337/query", .object([("sql", .string("SELECT 1"))]))
        #expect(unknown.status == 404)
    }
}
