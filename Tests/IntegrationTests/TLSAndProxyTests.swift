import ConnectorCore
import Foundation
import Testing

/// The real plane is `https://`/`wss://`, often behind a corporate proxy: enrollment and the
/// channel over TLS with a private CA (`ca_file`), through an HTTP CONNECT proxy (`proxy`, or
/// `http_proxy`/`HTTPS_PROXY` with `NO_PROXY`), with one plain line when the CA or host is wrong.
@Suite("TLS and proxies", .enabled(if: TestDatabase.isAvailable, TestDatabase.skipReason), .serialized)
struct TLSAndProxyTests {
    /// Runs a shell command in `directory`; throws with its output when it fails.
    @discardableResult
    func shell(_ command: String, in directory: String) throws -> String {
        let output = directory + "/shell-\(UUID().uuidString.prefix(6)).out"
        let status = system("cd '\(directory)' && (\(command)) > '\(output)' 2>&1 < /dev/null")
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        guard status == 0 else { throw HarnessError("\(command) failed: \(text)") }
        return text
    }

    /// A throwaway CA, a server certificate it signs for `localhost` only, and an unrelated CA.
    func makeCertificates(in directory: String) throws {
        try shell("""
            openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj '/CN=timbal test CA' &&
            openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other-ca.pem -days 2 -subj '/CN=some other CA' &&
            openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj '/CN=localhost' &&
            printf 'subjectAltName=DNS:localhost\\n' > ext.cnf &&
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile ext.cnf &&
            printf 'subjectAltName=DNS:elsewhere.test\\n' > elsewhere.cnf &&
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out elsewhere.pem -days 2 -extfile elsewhere.cnf
            """, in: directory)
    }

    func curl(_ arguments: String, in directory: String) throws -> JSONValue {
        try JSONParser.parse(try shell("curl -sf --cacert ca.pem -H 'Authorization: Bearer test-admin' \(arguments)", in: directory))
    }

    @Test func enrollmentAndTheChannelRunOverTLSWithAPrivateCA() throws {
        let scratch = try Scratch()
        try scratch.sql("CREATE TABLE {s}.t (id int PRIMARY KEY, updated_at timestamptz NOT NULL); INSERT INTO {s}.t SELECT g, now() FROM generate_series(1, 500) g")
        let harness = try DaemonHarness()
        try makeCertificates(in: harness.directory)
        harness.planeTLS = (harness.directory + "/server.pem", harness.directory + "/server.key")
        try harness.startPlane()
        let port = harness.planePort
        let base = "https://localhost:\(port)"
        guard case .string(let token)? = try curl("-X POST -d '{}' \(base)/orgs/org_dev/connectors/enrollment-tokens", in: harness.directory)["token"]
        else { throw HarnessError("no token") }
        let state = harness.directory + "/state"
        func enroll(_ url: String, ca: String, name: String) throws -> (status: Int32, stdout: String, stderr: String) {
            try ConnectorBinary.run(["enroll", "--url", url, "--token", token, "--state-dir", state, "--ca-file", harness.directory + "/" + ca],
                                    logDirectory: harness.directory, name: name)
        }
        let untrusted = try enroll(base, ca: "other-ca.pem", name: "untrusted")
        #expect(untrusted.status == 1)
        #expect(untrusted.stderr.contains("cannot reach the control plane at \(base): the plane's TLS certificate is not trusted"), "\(untrusted.stderr)")
        let byAddress = try enroll("https://127.0.0.1:\(port)", ca: "ca.pem", name: "byaddress")
        #expect(byAddress.status == 1)
        #expect(byAddress.stderr.contains("https:// needs the plane's host name, not an IP address"), "\(byAddress.stderr)")
        // The plane presents a certificate for another name: refused, and said so.
        harness.killPlane()
        harness.planeTLS = (harness.directory + "/elsewhere.pem", harness.directory + "/server.key")
        try harness.startPlane()
        let wrongHost = try enroll(base, ca: "ca.pem", name: "wronghost")
        #expect(wrongHost.status == 1)
        #expect(wrongHost.stderr.contains("the plane's TLS certificate is for another host name"), "\(wrongHost.stderr)")
        for run in [untrusted, byAddress, wrongHost] {
            #expect(run.stderr.split(separator: "\n").filter { $0.contains("error") }.count == 1)
            #expect(!run.stderr.contains("NIOSSL") && !run.stderr.contains("SingleConnectionFailure"), "\(run.stderr)")
        }
        harness.killPlane()
        harness.planeTLS = (harness.directory + "/server.pem", harness.directory + "/server.key")
        try harness.startPlane()
        let enrolled = try enroll(base, ca: "ca.pem", name: "enrolled")
        #expect(enrolled.status == 0, "\(enrolled.stderr)")
        let connectorID = enrolled.stdout.trimmingCharacters(in: .whitespacesAndNewlines)

        try #"{"pg": {"kind": "postgres", "dsn": "\#(TestDatabase.dsn)"}}"#.write(toFile: harness.directory + "/connections.json", atomically: true, encoding: .utf8)
        try """
            {"control_plane_url": "\(base)", "ca_file": "ca.pem", "state_dir": "\(state)", "heartbeat_s": 1, "metrics_address": null}
            """.write(toFile: harness.directory + "/config.json", atomically: true, encoding: .utf8)
        try harness.startConnector()
        let online = waitUntil(seconds: 30) {
            (try? curl("\(base)/orgs/org_dev/connectors/\(connectorID)", in: harness.directory)["online"]) == .bool(true)
        }
        #expect(online, "\(harness.log("connector1.err"))")
        let body = DaemonHarness.jobBody(table: "t", schema: scratch.schema, dest: "t", placement: "hosted").replacingOccurrences(of: "\n", with: " ")
        try body.write(toFile: harness.directory + "/job.json", atomically: true, encoding: .utf8)
        guard case .string(let jobID)? = try curl("-X POST -d @job.json \(base)/orgs/org_dev/connectors/\(connectorID)/jobs", in: harness.directory)["job_id"]
        else { throw HarnessError("no job id") }
        let completed = waitUntil(seconds: 60) {
            (try? curl("\(base)/orgs/org_dev/connectors/\(connectorID)/jobs/\(jobID)", in: harness.directory)["state"]) == .string("completed")
        }
        #expect(completed)
    }

    /// The channel through a CONNECT proxy named in config.json; with NO_PROXY naming the plane,
    /// the proxy from the environment is not used.
    @Test func theChannelGoesThroughAProxyAndNoProxyIsHonoured() throws {
        let harness = try DaemonHarness()
        try harness.startPlane()
        try harness.enroll()
        let proxy = Process()
        proxy.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        proxy.arguments = ["python3", PrivateServer.repository + "/scripts/connect-proxy.py"]
        let proxyLog = harness.directory + "/proxy.log"
        FileManager.default.createFile(atPath: proxyLog, contents: nil)
        proxy.standardOutput = FileHandle(forWritingAtPath: proxyLog)
        try proxy.run()
        defer { kill(proxy.processIdentifier, SIGKILL); proxy.waitUntilExit() }
        var proxyPort = 0
        #expect(waitUntil(seconds: 10) {
            let text = (try? String(contentsOfFile: proxyLog, encoding: .utf8)) ?? ""
            guard let line = text.split(separator: "\n").first, line.hasPrefix("port "), let port = Int(line.dropFirst(5)) else { return false }
            proxyPort = port
            return true
        })
        // The environment names the proxy, but NO_PROXY names the plane: direct.
        try harness.startConnector(environment: ["http_proxy": "http://127.0.0.1:\(proxyPort)", "NO_PROXY": "127.0.0.1"])
        try harness.waitOnline()
        #expect(!((try? String(contentsOfFile: proxyLog, encoding: .utf8)) ?? "").contains("CONNECT"))
        kill(harness.connector!.processIdentifier, SIGKILL)
        harness.connector!.waitUntilExit()
        // config.json names the proxy: the channel is tunnelled through it.
        let config = try String(contentsOfFile: harness.directory + "/config.json", encoding: .utf8)
            .replacingOccurrences(of: "\"metrics_address\"", with: "\"proxy\": \"http://127.0.0.1:\(proxyPort)\", \"metrics_address\"")
        try config.write(toFile: harness.directory + "/config.json", atomically: true, encoding: .utf8)
        try harness.startConnector()
        try harness.waitOnline()
        #expect(((try? String(contentsOfFile: proxyLog, encoding: .utf8)) ?? "").contains("CONNECT 127.0.0.1:\(harness.planePort)"))
    }
}
