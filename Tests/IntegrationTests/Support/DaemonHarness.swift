import ConnectorCore
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Real `timbal-devplane` and `timbal-connector run` processes for end-to-end tests.
final class DaemonHarness {
    let directory: String
    let adminToken = "test-admin"
    private(set) var planePort = 0
    private(set) var plane: Process?
    private(set) var connector: Process?
    private(set) var connectorID = ""
    private var planeRuns = 0
    private var connectorRuns = 0

    init() throws {
        directory = NSTemporaryDirectory() + "timbal-e2e-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    deinit {
        for process in [connector, plane].compactMap({ $0 }) where process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    static var binDirectory: String { URL(fileURLWithPath: ConnectorBinary.path).deletingLastPathComponent().path }

    /// `--tls-cert`/`--tls-key` for the plane: it then serves HTTPS/WSS.
    var planeTLS: (certificate: String, key: String)?
    /// More plane arguments, e.g. `--sync-tick-s 1`.
    var planeArguments: [String] = []

    var baseURL: String { "http://127.0.0.1:\(planePort)" }

    /// Starts the plane; the first start picks a free port, later ones reuse it (a restart).
    func startPlane() throws {
        planeRuns += 1
        let name = "plane\(planeRuns)"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binDirectory + "/timbal-devplane")
        process.arguments = ["--port", String(planePort), "--data-dir", directory + "/plane", "--admin-token", adminToken,
                             "--kbs", "1,42"] + (planeTLS.map { ["--tls-cert", $0.certificate, "--tls-key", $0.key] } ?? []) + planeArguments
        FileManager.default.createFile(atPath: "\(directory)/\(name).out", contents: nil)
        process.standardOutput = FileHandle(forWritingAtPath: "\(directory)/\(name).out")
        process.standardError = FileHandle(forWritingAtPath: "\(directory)/\(name).err") ?? FileHandle.nullDevice
        try process.run()
        plane = process
        var port = 0
        _ = waitUntil(seconds: 30) {
            let out = (try? String(contentsOfFile: "\(directory)/\(name).out", encoding: .utf8)) ?? ""
            guard let line = out.split(separator: "\n").first(where: { $0.contains("listening on") }),
                  let text = line.split(separator: ":").last, let value = Int(text) else { return false }
            port = value
            return true
        }
        guard port > 0 else { throw HarnessError("devplane did not start: \(log(name + ".out"))") }
        planePort = port
    }

    func killPlane() {
        guard let plane, plane.isRunning else { return }
        kill(plane.processIdentifier, SIGKILL)
        plane.waitUntilExit()
    }

    /// Mints a token, enrolls, and writes config.json and connections.json.
    func enroll(dsn: String = TestDatabase.dsn, tokenBody: String = "{}") throws {
        let minted = try request("POST", "/orgs/org_dev/connectors/enrollment-tokens", body: tokenBody)
        guard case .string(let token)? = minted.json["token"] else { throw HarnessError("no token: \(minted)") }
        let result = try ConnectorBinary.run(["enroll", "--url", baseURL, "--token", token, "--state-dir", directory + "/state",
                                              "--name", "e2e", "--log-level", "warning"], logDirectory: directory, name: "enroll")
        guard result.status == 0 else { throw HarnessError("enroll failed: \(result.stderr)") }
        connectorID = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try #"{"pg": {"kind": "postgres", "dsn": "\#(dsn)"}}"#.write(toFile: directory + "/connections.json", atomically: true, encoding: .utf8)
        try writeConfig()
    }

    /// `metricsAddress` nil turns the health endpoint off (tests run several daemons at once).
    func writeConfig(metricsAddress: String? = nil) throws {
        let metrics = metricsAddress.map { "\"\($0)\"" } ?? "null"
        try """
            {"control_plane_url": "\(baseURL)", "name": "e2e", "state_dir": "\(directory)/state",
             "connections": "connections.json", "max_concurrent_jobs": 2, "heartbeat_s": 1, "metrics_address": \(metrics)}
            """.write(toFile: directory + "/config.json", atomically: true, encoding: .utf8)
    }

    /// A GET on a local URL: status and body.
    func get(_ url: String) -> (Int, String) {
        let box = ReplyBox()
        let done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: URL(string: url)!) { data, response, _ in
            let text = data.map { String(decoding: $0, as: UTF8.self) } ?? ""
            box.reply = Reply(status: (response as? HTTPURLResponse)?.statusCode ?? 0, json: .string(text))
            done.signal()
        }.resume()
        done.wait()
        if case .string(let text)? = box.reply?.json { return (box.reply?.status ?? 0, text) }
        return (0, "")
    }

    @discardableResult
    func startConnector(environment: [String: String] = [:]) throws -> String {
        connectorRuns += 1
        let name = "connector\(connectorRuns)"
        connector = try ConnectorBinary.start(["run", "--config", directory + "/config.json", "--log-level", "debug"],
                                              logDirectory: directory, name: name, environment: environment)
        return name
    }

    /// Waits until the plane sees the connector online.
    func waitOnline() throws {
        let online = waitUntil(seconds: 30) {
            (try? request("GET", "/orgs/org_dev/connectors/\(connectorID)").json["online"]) == .bool(true)
        }
        guard online else { throw HarnessError("connector never came online: \(log("connector\(connectorRuns).err"))") }
    }

    func log(_ name: String) -> String {
        (try? String(contentsOfFile: "\(directory)/\(name)", encoding: .utf8)) ?? ""
    }

    struct Reply: CustomStringConvertible {
        let status: Int
        let json: JSONValue
        var description: String { "\(status) \(json.serialized())" }
    }

    /// One HTTP call to the plane, with the admin bearer token.
    func request(_ method: String, _ path: String, body: String? = nil, auth: Bool = true) throws -> Reply {
        var request = URLRequest(url: URL(string: baseURL + path)!)
        request.httpMethod = method
        if auth { request.setValue("Bearer \(adminToken)", forHTTPHeaderField: "Authorization") }
        request.httpBody = body.map { Data($0.utf8) }
        let box = ReplyBox()
        let done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: request) { data, response, _ in
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            let text = data.map { String(decoding: $0, as: UTF8.self) } ?? ""
            box.reply = Reply(status: status, json: (try? JSONParser.parse(text)) ?? .string(text))
            done.signal()
        }.resume()
        done.wait()
        return box.reply ?? Reply(status: 0, json: .null)
    }

    func dispatch(_ body: String, query: String = "") throws -> Reply {
        try request("POST", "/orgs/org_dev/connectors/\(connectorID)/jobs\(query)", body: body)
    }

    func job(_ id: String) throws -> JSONValue {
        try request("GET", "/orgs/org_dev/connectors/\(connectorID)/jobs/\(id)").json
    }

    /// Waits for a job to reach `state`; returns its last view.
    @discardableResult
    func waitForJob(_ id: String, state: String, seconds: Double = 60) throws -> JSONValue {
        var view: JSONValue = .null
        let reached = waitUntil(seconds: seconds) {
            view = (try? job(id)) ?? .null
            return view["state"] == .string(state)
        }
        guard reached else { throw HarnessError("job \(id) did not reach \(state): \(view.serialized())") }
        return view
    }

    func rowsEmitted(_ id: String) -> Int64 {
        if case .number(let text)? = (try? job(id))?["rows_emitted"] { return Int64(text) ?? 0 }
        return 0
    }

    /// A query on the hosted KB: the first row's cells.
    func hostedRow(_ sql: String, kb: Int = 42) throws -> [JSONValue] {
        let reply = try request("POST", "/k2/\(kb)/query", body: JSONValue.object([("sql", .string(sql))]).serialized())
        guard case .array(let rows)? = reply.json["rows"], case .array(let first)? = rows.first else {
            throw HarnessError("query failed: \(reply)")
        }
        return first
    }

    static func jobBody(table: String, schema: String, dest: String, placement: String, batchRows: Int = 500,
                        pacing: String = "null", kind: String = "postgres") -> String {
        """
        {"kb_id": 42, "dest_table": "\(dest)", "placement": "\(placement)", "batch_rows": \(batchRows), "pacing": \(pacing),
         "source": {"kind": "\(kind)", "connection_ref": "pg", "schema": "\(schema)", "table": "\(table)", "cursor_column": "updated_at"}}
        """
    }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

final class ReplyBox: @unchecked Sendable {
    var reply: DaemonHarness.Reply?
}
