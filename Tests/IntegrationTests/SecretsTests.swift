import ConnectorCore
import Foundation
import PostgresClient
import Testing

/// A malformed DSN is exactly when libpq quotes it back: no password may reach any output or file.
@Suite("Secrets never leak", .enabled(if: TestDatabase.isAvailable, TestDatabase.skipReason))
struct SecretsTests {
    static let password = "s3cr3t-pw"
    /// The test server's address, with a role that does not exist: it answers, and refuses.
    static let server = TestDatabase.dsn.split(separator: "@").last.map(String.init) ?? "127.0.0.1:5432/postgres"
    static let malformed = [
        "postgresql://reader:\(password)%zz@127.0.0.1:1/db",                  // a bad percent escape
        "host=127.0.0.1 port=1 user=reader password='\(password) unbalanced", // an unbalanced quote
        "host=127.0.0.1 port=1 password=\(password) boguskey=1",              // an unknown key
        "postgresql://nobody_here:\(password)!@#$^&*()[]{}@\(server)",        // every special character
        "postgresql://reader:\(password)@127.0.0.1:1/db?sslmode=bogus",       // a bad option value
        "postgresql://nobody_here:\(password)@\(server)",                     // parses, the server refuses the login
    ]

    @Test(arguments: Array(malformed.enumerated()))
    func extractNeverPrintsOrStoresThePassword(_ entry: (offset: Int, element: String)) throws {
        let directory = NSTemporaryDirectory() + "timbal-secret-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let escaped = entry.element.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        try #"{"pg": {"kind": "postgres", "dsn": "\#(escaped)", "connect_timeout_s": 2}}"#
            .write(toFile: "\(directory)/connections.json", atomically: true, encoding: .utf8)
        try """
            {"kb_id": 1, "dest_table": "t", "placement": "local",
             "source": {"kind": "postgres", "connection_ref": "pg", "table": "t", "cursor_column": "id"}}
            """.write(toFile: "\(directory)/job.json", atomically: true, encoding: .utf8)
        let run = try ConnectorBinary.run(
            ["extract", "--job", "\(directory)/job.json", "--connections", "\(directory)/connections.json",
             "--state-dir", "\(directory)/state", "--job-id", "secret"],
            logDirectory: directory, name: "run")
        #expect(run.status == 1)
        #expect(run.stderr.contains("error:"))
        #expect(!run.stdout.contains(Self.password) && !run.stderr.contains(Self.password), "\(run.stderr)")
        // Nothing under the state dir holds it either.
        let files = FileManager.default.enumerator(atPath: "\(directory)/state")?.compactMap { $0 as? String } ?? []
        for file in files {
            let bytes = FileManager.default.contents(atPath: "\(directory)/state/\(file)") ?? Data()
            #expect(!String(decoding: bytes, as: UTF8.self).contains(Self.password), "\(file)")
        }
    }

    /// The same DSNs through `check` and through the daemon (`run` + a dispatched job): the
    /// output, the connector's log, the job view the plane shows, and every file of the connector
    /// and the plane are free of the password.
    @Test func checkAndTheDaemonNeverPrintSendOrStoreThePassword() throws {
        let scratch = try Scratch()
        let harness = try DaemonHarness()
        try harness.startPlane()
        try harness.enroll()
        var entries: [String] = []
        for (index, dsn) in Self.malformed.enumerated() {
            let escaped = dsn.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            entries.append(#""c\#(index)": {"kind": "postgres", "dsn": "\#(escaped)", "connect_timeout_s": 2}"#)
        }
        try ("{" + entries.joined(separator: ", ") + "}").write(toFile: harness.directory + "/connections.json", atomically: true, encoding: .utf8)
        let check = try ConnectorBinary.run(["check", "--config", harness.directory + "/config.json"], logDirectory: harness.directory, name: "check")
        #expect(check.status != 0)
        #expect(check.stdout.contains("FAIL"), "\(check.stdout)")
        try harness.startConnector()
        try harness.waitOnline()
        for index in Self.malformed.indices {
            let body = DaemonHarness.jobBody(table: "t", schema: scratch.schema, dest: "t\(index)", placement: "local")
                .replacingOccurrences(of: #""connection_ref": "pg""#, with: #""connection_ref": "c\#(index)""#)
            let reply = try harness.dispatch(body)
            guard case .string(let id)? = reply.json["job_id"] else { throw HarnessError("dispatch: \(reply)") }
            let view = try harness.waitForJob(id, state: "failed", seconds: 60)
            #expect(!view.serialized().contains(Self.password), "\(view.serialized())")
        }
        #expect(!check.stdout.contains(Self.password) && !check.stderr.contains(Self.password))
        #expect(!harness.log("connector1.err").contains(Self.password))
        // Every file the connector and the plane wrote (state DB, KBs, plane.sqlite, logs).
        let files = FileManager.default.enumerator(atPath: harness.directory)?.compactMap { $0 as? String } ?? []
        for file in files where file != "connections.json" {
            let bytes = FileManager.default.contents(atPath: harness.directory + "/" + file) ?? Data()
            #expect(!String(decoding: bytes, as: UTF8.self).contains(Self.password), "\(file)")
        }
    }

    @Test func theSecretFinderReadsWhatTheUserWrote() {
        #expect(ConninfoSecrets.find(in: "postgresql://u:p%41ss@h/db").contains("pAss"))
        #expect(ConninfoSecrets.find(in: "postgresql://u:p%zz@h/db").contains("p%zz"))
        #expect(ConninfoSecrets.find(in: "host=h password='a b'").contains("a b"))
        #expect(ConninfoSecrets.find(in: "host=h password = x1 user=u").contains("x1"))
        #expect(!ConninfoSecrets.isParsable("host=h password='open"))
    }
}
