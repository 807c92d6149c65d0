import ChannelProtocol
import ConnectorCore
@testable import ConnectorDaemon
import DevPlane
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import ServiceLifecycle
import ServiceLifecycleTestKit
import Testing

/// The channel client and the drain against the development plane running in this process, over a
/// real WebSocket on loopback: no Postgres, no child processes, seconds.
@Suite("Channel client against an in-process plane", .serialized)
struct ChannelClientTests {
    /// A plane on a free port, its data in a temporary directory; stopped by cancelling `task`.
    final class Plane: @unchecked Sendable {
        let directory = NSTemporaryDirectory() + "timbal-inproc-\(UUID().uuidString.prefix(8))"
        var port = 0
        var task: Task<Void, Error>?

        init() async throws { try await start(port: 0) }

        /// Starts the plane (again: on the same port and data, a restart).
        func start(port requested: Int) async throws {
            var config = DevPlaneConfig(port: requested, dataDir: directory + "/plane", adminToken: "admin", kbs: [42])
            config.syncTickSeconds = 3600
            let ready = AsyncStream<Int>.makeStream()
            var logger = Logger(label: "plane")
            logger.logLevel = .critical
            let app = try DevPlane.application(config: config, logger: logger) { port in ready.continuation.yield(port) }
            task = Task { try await app.run() }
            var ports = ready.stream.makeAsyncIterator()
            port = await ports.next() ?? 0
        }

        deinit {
            task?.cancel()
            try? FileManager.default.removeItem(atPath: directory)
        }

        var url: String { "http://127.0.0.1:\(port)" }

        func call(_ method: String, _ path: String, _ body: String? = nil) async throws -> JSONValue {
            var request = URLRequest(url: URL(string: url + path)!)
            request.httpMethod = method
            request.setValue("Bearer admin", forHTTPHeaderField: "Authorization")
            request.httpBody = body.map { Data($0.utf8) }
            let (data, _) = try await URLSession.shared.data(for: request)
            return try JSONParser.parse(Array(data))
        }

        /// Mints a token and enrolls through the real enrollment channel.
        func enroll(stateDir: String) async throws -> (DaemonConfig, Credential) {
            guard case .string(let token)? = try await call("POST", "/orgs/org_dev/connectors/enrollment-tokens", "{}")["token"] else {
                throw Failure("no token")
            }
            var config = DaemonConfig(controlPlaneURL: url, name: "inproc", stateDir: stateDir, heartbeatSeconds: 1, metricsAddress: nil)
            config.connectionsPath = stateDir + "/connections.json"
            let credential = try await Enrollment.enroll(config: config, token: token, logger: Logger(label: "enroll"))
            return (config, credential)
        }
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// Polls without blocking the cooperative pool.
    func eventually(_ seconds: Double = 30, _ condition: () async throws -> Bool) async rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return try await condition()
    }

    func makeDaemon(_ plane: Plane, connections: String = "{}") async throws -> (ChannelClient, JobRunner, StateStore, String) {
        let stateDir = plane.directory + "/state"
        let (config, credential) = try await plane.enroll(stateDir: stateDir)
        let store = try StateStore(stateDir: stateDir)  // creates the state dir (0700)
        try connections.write(toFile: config.connectionsPath, atomically: true, encoding: .utf8)
        let outbox = Outbox()
        var logger = Logger(label: "daemon")
        logger.logLevel = .critical
        let runner = JobRunner(config: config, store: store, outbox: outbox, logger: logger)
        let client = ChannelClient(config: config, credential: credential, store: store, outbox: outbox, runner: runner, logger: logger)
        return (client, runner, store, credential.connectorID)
    }

    @Test func itSaysHelloTakesAJobReportsItAndStopsOnShutdown() async throws {
        let plane = try await Plane()
        let (client, _, _, connectorID) = try await makeDaemon(plane)
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await client.run() }
                #expect(await eventually { client.isUp })
                let view = try await plane.call("GET", "/orgs/org_dev/connectors/\(connectorID)")
                #expect(view["connected"] == .bool(true) && view["name"] == .string("inproc"))
                #expect(view["capabilities"] == .array(Capabilities.all.map(JSONValue.string)))
                // A job for a connection this daemon does not have: accepted, then failed naming it.
                let dispatched = try await plane.call("POST", "/orgs/org_dev/connectors/\(connectorID)/jobs", """
                    {"kb_id": 42, "dest_table": "t", "placement": "local",
                     "source": {"kind": "postgres", "connection_ref": "nope", "table": "t", "cursor_column": "id"}}
                    """)
                guard case .string(let jobID)? = dispatched["job_id"] else { throw Failure("dispatch: \(dispatched)") }
                var job: JSONValue = .null
                #expect(await eventually {
                    job = (try? await plane.call("GET", "/orgs/org_dev/connectors/\(connectorID)/jobs/\(jobID)")) ?? .null
                    return job["state"] == .string("failed")
                })
                #expect(job["message"] == .string("source.connection_ref: \"nope\" is not defined in \(plane.directory)/state/connections.json (it defines none)"))
                // A browse request is answered over the same channel.
                let names = try await plane.call("GET", "/orgs/org_dev/connectors/\(connectorID)/browse/connections")
                #expect(names == .object([("connections", .array([]))]))
                trigger.triggerGracefulShutdown()
                try await group.waitForAll()
            }
        }
        #expect(!client.isUp)
    }

    @Test func itRedialsWhenThePlaneComesBack() async throws {
        let plane = try await Plane()
        let (client, _, _, _) = try await makeDaemon(plane)
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await client.run() }
                #expect(await eventually { client.isUp })
                // The plane goes away: the client notices and keeps redialling.
                plane.task?.cancel()
                _ = await plane.task?.result
                #expect(await eventually(30) { !client.isUp })
                // It comes back on the same address: the client is up again.
                try await plane.start(port: plane.port)
                #expect(await eventually(30) { client.isUp })
                trigger.triggerGracefulShutdown()
                try await group.waitForAll()
            }
        }
    }

    @Test func aRevocationEndsTheClientWithItsOwnError() async throws {
        let plane = try await Plane()
        let (client, _, _, connectorID) = try await makeDaemon(plane)
        let outcome = try await withThrowingTaskGroup(of: String.self) { group in
            group.addTask {
                do { try await client.run(); return "returned" } catch is ConnectorRevoked { return "revoked" }
            }
            #expect(await eventually { client.isUp })
            let revoke = try await plane.call("POST", "/orgs/org_dev/connectors/\(connectorID)/revoke")
            #expect(revoke["disconnected"] == .bool(true))
            let first = try await group.next()
            group.cancelAll()
            return first
        }
        #expect(outcome == "revoked")
    }

    /// The drain (SIGTERM) stops a running job at once and leaves it resumable: here a job stuck
    /// connecting to a server that accepts TCP and never answers.
    @Test func theDrainStopsARunningJobAndLeavesItResumable() async throws {
        let silent = try SilentServer()
        let plane = try await Plane()
        let (client, runner, store, connectorID) = try await makeDaemon(
            plane, connections: #"{"hung": {"dsn": "host=127.0.0.1 port=\#(silent.port) user=x dbname=x", "connect_timeout_s": 60}}"#)
        let drain = JobDrainService(runner: runner, logger: Logger(label: "drain", factory: { _ in SwiftLogNoOpLogHandler() }))
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await client.run() }
                group.addTask { try await drain.run() }
                #expect(await eventually { client.isUp })
                let dispatched = try await plane.call("POST", "/orgs/org_dev/connectors/\(connectorID)/jobs", """
                    {"kb_id": 42, "dest_table": "t", "placement": "local",
                     "source": {"kind": "postgres", "connection_ref": "hung", "table": "t", "cursor_column": "id"}}
                    """)
                guard case .string(let jobID)? = dispatched["job_id"] else { throw Failure("dispatch: \(dispatched)") }
                #expect(await eventually { runner.runningJobs == 1 })
                let started = Date()
                trigger.triggerGracefulShutdown()
                try await group.waitForAll()
                #expect(Date().timeIntervalSince(started) < 20, "the drain waited for the connect timeout")
                #expect(runner.runningJobs == 0)
                #expect(try store.unfinishedJobs().map(\.jobID) == [jobID], "the interrupted job must stay resumable")
            }
        }
    }
}

/// A TCP server that accepts connections and never says a word (a hung Postgres).
final class SilentServer: @unchecked Sendable {
    let port: Int
    private let socketFD: Int32

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        listen(fd, 16)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        socketFD = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(socketFD) }
}
