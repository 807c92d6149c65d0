import ConnectorCore
import Foundation
import Testing

/// Errors an operator can cause get one plain line naming the path and the reason.
@Suite("Operator errors", .enabled(if: TestDatabase.isAvailable, TestDatabase.skipReason))
struct OperatorErrorsTests {
    func files(_ scratch: Scratch, stateDir: String, seed: Bool = true) throws -> [String] {
        if seed { try scratch.sql("CREATE TABLE {s}.t (id int PRIMARY KEY, v text); INSERT INTO {s}.t VALUES (1, 'a')") }
        try """
            {"kb_id": 1, "dest_table": "t", "placement": "local",
             "source": {"kind": "postgres", "connection_ref": "pg", "schema": "\(scratch.schema)", "table": "t", "cursor_column": "id"}}
            """.write(toFile: "\(scratch.stateDir)/job.json", atomically: true, encoding: .utf8)
        try #"{"pg": {"kind": "postgres", "dsn": "\#(TestDatabase.dsn)"}}"#
            .write(toFile: "\(scratch.stateDir)/connections.json", atomically: true, encoding: .utf8)
        return ["extract", "--job", "\(scratch.stateDir)/job.json", "--connections", "\(scratch.stateDir)/connections.json",
                "--state-dir", stateDir, "--job-id", "ops"]
    }

    @Test func aReadOnlyCommandOnAMistypedStateDirCreatesNothing() throws {
        let missing = NSTemporaryDirectory() + "timbal-typo-\(UUID().uuidString.prefix(8))"
        let run = try ConnectorBinary.run(["jobs", "--state-dir", missing], logDirectory: NSTemporaryDirectory(), name: "jobs-typo")
        #expect(run.status == 1)
        #expect(run.stderr.contains("no state here (no state.sqlite, no kb/)"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: missing))
    }

    @Test func stateDirectoriesArePrivateAndAKBSymlinkIsRefused() throws {
        let scratch = try Scratch()
        let state = scratch.stateDir + "/state"
        let first = try ConnectorBinary.run(try files(scratch, stateDir: state), logDirectory: scratch.stateDir, name: "first")
        #expect(first.status == 0, "\(first.stderr)")
        // `jobs` lists jobs run with `extract` too (they live in the KB's records only).
        let jobs = try ConnectorBinary.run(["jobs", "--state-dir", state], logDirectory: scratch.stateDir, name: "jobs")
        #expect(jobs.status == 0 && jobs.stdout.contains("ops") && jobs.stdout.contains("completed"), "\(jobs.stdout)\(jobs.stderr)")
        for directory in [state, state + "/kb", state + "/locks"] {
            let mode = try FileManager.default.attributesOfItem(atPath: directory)[.posixPermissions] as? Int
            #expect(mode == 0o700, "\(directory)")
        }
        // A KB file swapped for a link to somewhere else is not followed.
        let elsewhere = scratch.stateDir + "/elsewhere.sqlite"
        try FileManager.default.removeItem(atPath: state + "/kb/1.sqlite")
        try FileManager.default.createSymbolicLink(atPath: state + "/kb/1.sqlite", withDestinationPath: elsewhere)
        let linked = try ConnectorBinary.run(try files(scratch, stateDir: state, seed: false), logDirectory: scratch.stateDir, name: "linked")
        #expect(linked.status == 1)
        #expect(linked.stderr.contains("is a symbolic link"), "\(linked.stderr)")
        #expect(!FileManager.default.fileExists(atPath: elsewhere))
    }

    @Test func enrollRefusesABadProxyOrAnUnreadableCAFileNamingTheOption() throws {
        let directory = NSTemporaryDirectory()
        let proxy = try ConnectorBinary.run(["enroll", "--url", "https://plane.example", "--token", "t", "--state-dir", directory + "/x",
                                             "--proxy", "socks://p:1"], logDirectory: directory, name: "bad-proxy")
        #expect(proxy.status != 0 && proxy.stderr.contains("--proxy: expected http://host:port, got \"socks://p:1\""), "\(proxy.stderr)")
        let ca = try ConnectorBinary.run(["enroll", "--url", "https://plane.example", "--token", "t", "--state-dir", directory + "/x",
                                          "--ca-file", "/nonexistent/ca.pem"], logDirectory: directory, name: "bad-ca")
        #expect(ca.status != 0 && ca.stderr.contains("--ca-file: cannot read /nonexistent/ca.pem"), "\(ca.stderr)")
    }

    @Test func anEmptyJobIdIsRefused() throws {
        let scratch = try Scratch()
        var arguments = try files(scratch, stateDir: scratch.stateDir + "/state")
        arguments[arguments.count - 1] = " "
        let run = try ConnectorBinary.run(arguments, logDirectory: scratch.stateDir, name: "empty-id")
        #expect(run.status == 1)
        #expect(run.stderr.contains("error: --job-id: must not be empty"), "\(run.stderr)")
    }

    @Test func aStateDirThatCannotBeCreatedIsOnePlainLine() throws {
        let scratch = try Scratch()
        let blocker = scratch.stateDir + "/a-file"
        FileManager.default.createFile(atPath: blocker, contents: Data("x".utf8))
        let run = try ConnectorBinary.run(try files(scratch, stateDir: blocker + "/state"), logDirectory: scratch.stateDir, name: "blocked")
        #expect(run.status == 1)
        #expect(run.stderr.contains("cannot create directory \(blocker)/state: Not a directory"), "\(run.stderr)")
        #expect(!run.stderr.contains("CocoaError") && !run.stderr.contains("POSIXError"))
    }
}
