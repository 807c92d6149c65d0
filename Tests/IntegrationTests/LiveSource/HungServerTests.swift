import ConnectorCore
import Foundation
import PostgresClient
import SQLiteStore
import Testing

/// A server that stops answering (SIGSTOP: the kernel still acknowledges TCP, so keepalives
/// alone never notice) is given up on by the client-side deadline, and SIGTERM still ends the
/// CLI at a batch boundary.
@Suite("Hung server", .enabled(if: TestDatabase.isAvailable && PrivateServer.isAvailable, PrivateServer.skipReason), .serialized)
struct HungServerTests {
    /// The postmaster and its children, to stop and continue together.
    func clusterProcesses(_ server: PrivateServer) throws -> [pid_t] {
        let text = try String(contentsOfFile: server.directory + "/postmaster.pid", encoding: .utf8)
        let postmaster = try #require(pid_t(text.split(separator: "\n").first ?? ""))
        var pids = [postmaster]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, pid_t(fields[1]) == postmaster { pids.append(pid) }
        }
        return pids
    }

    @Test func aSilentServerIsAbandonedAndSIGTERMStillEndsTheJob() throws {
        let server = try PrivateServer()
        let admin = try PostgresConnection(conninfo: server.dsn)
        try admin.execute("""
            CREATE TABLE events (id int PRIMARY KEY, updated_at timestamptz NOT NULL, note text);
            INSERT INTO events SELECT g, '2026-01-01'::timestamptz + g * interval '1 s', 'n' || g FROM generate_series(1, 40000) g;
            CREATE INDEX ON events (updated_at, id);
            """)
        let stateDir = NSTemporaryDirectory() + "timbal-hung-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: stateDir) }
        try """
            {"kb_id": 1, "dest_table": "events", "batch_rows": 500, "placement": "local",
             "pacing": {"max_rows_per_sec": 4000},
             "source": {"kind": "postgres", "connection_ref": "pg", "table": "events", "cursor_column": "updated_at"}}
            """.write(toFile: "\(stateDir)/job.json", atomically: true, encoding: .utf8)
        try #"{"pg": {"kind": "postgres", "dsn": "\#(server.dsn)", "statement_timeout_ms": 1000, "connect_timeout_s": 2}}"#
            .write(toFile: "\(stateDir)/connections.json", atomically: true, encoding: .utf8)
        let arguments = ["extract", "--job", "\(stateDir)/job.json", "--connections", "\(stateDir)/connections.json",
                         "--state-dir", stateDir, "--job-id", "hung"]
        let landed = { () -> Int64 in
            guard let kb = try? SQLiteDatabase(path: LocalKB.path(stateDir: stateDir, kbID: 1), readOnly: true),
                  case .integer(let rows)? = try? kb.rows("SELECT rows_landed FROM _timbal_jobs WHERE job_id = 'hung'").first?.first
            else { return 0 }
            return rows
        }
        let process = try ConnectorBinary.start(arguments, logDirectory: stateDir, name: "first")
        #expect(waitUntil(seconds: 60) { landed() >= 4_000 })
        let pids = try clusterProcesses(server)
        pids.forEach { kill($0, SIGSTOP) }
        defer { pids.forEach { kill($0, SIGCONT) } }
        // Statement timeout 1 s + 5 s margin: the deadline fires about 6 s into the silence.
        let noticed = waitUntil(seconds: 30) {
            ((try? String(contentsOfFile: "\(stateDir)/first.err", encoding: .utf8)) ?? "").contains("sent nothing for")
        }
        #expect(noticed)
        let signalled = Date()
        kill(process.processIdentifier, SIGTERM)
        let ended = waitUntil(seconds: 10) { !process.isRunning }
        #expect(ended, "SIGTERM was not honoured within 10 s while the server hung")
        if !ended { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        #expect(Date().timeIntervalSince(signalled) < 10)
        #expect(process.terminationStatus == 3)
        pids.forEach { kill($0, SIGCONT) }

        let rerun = try ConnectorBinary.run(arguments, logDirectory: stateDir, name: "second")
        #expect(rerun.status == 0, "\(rerun.stderr)")
        let kb = try SQLiteDatabase(path: LocalKB.path(stateDir: stateDir, kbID: 1))
        #expect(try kb.rows("SELECT count(*), count(DISTINCT id) FROM events").first == [.integer(40_000), .integer(40_000)])
    }
}
