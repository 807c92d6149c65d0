import Foundation
import Testing

/// A Postgres cluster of a test's own (scripts/pg-throwaway.sh), so it can be restarted
/// mid-job without disturbing the other tests' server.
final class PrivateServer {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let script = repository + "/scripts/pg-throwaway.sh"

    static let skipReason: Comment = "needs PostgreSQL's server binaries (initdb, postgres) to start a private server it can stop and hang; apt-get install postgresql"

    /// initdb and pg_ctl are there (always under CI, which installs them).
    static let isAvailable: Bool = {
        if TestDatabase.isCI { return true }
        return FileManager.default.isExecutableFile(atPath: "/usr/bin/pg_config")
            || !((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []).isEmpty
    }()

    let directory: String
    let port: Int
    let dsn: String

    init() throws {
        let base = "/tmp/timbal-private-pg-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o755])
        directory = base + "/cluster"
        // Tests that start clusters run concurrently: each tries random ports until one starts
        // (two asking the script for "the first free port" at once would collide). A restart reuses it.
        var started: String?
        var lastError: Error?
        for _ in 0..<6 where started == nil {
            do {
                started = try Self.script(["start", directory, String(Int.random(in: 20_000...50_000))])
            } catch {
                lastError = error
            }
        }
        guard let started else { throw lastError! }
        dsn = started.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let portText = dsn.split(separator: ":").last?.split(separator: "/").first, let parsed = Int(portText) else {
            throw NSError(domain: "PrivateServer", code: 1, userInfo: [NSLocalizedDescriptionKey: "unexpected DSN \(dsn)"])
        }
        port = parsed
    }

    deinit {
        _ = try? Self.script(["stop", directory])
        try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: directory).deletingLastPathComponent().path)
    }

    /// `pg_ctl restart -m fast`: every session is dropped and the server comes back.
    func restart() throws {
        _ = try Self.script(["stop", directory])
        _ = try Self.script(["start", directory, String(port)])
    }

    /// Runs the script through system(3): Foundation's Process can miss the exit of a child whose
    /// grandchild (the postmaster) lives on, and hang in waitUntilExit.
    @discardableResult
    static func script(_ arguments: [String]) throws -> String {
        let output = NSTemporaryDirectory() + "pg-throwaway-\(UUID().uuidString.prefix(8)).out"
        defer { try? FileManager.default.removeItem(atPath: output) }
        let quoted = ([script] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let status = system("bash \(quoted.joined(separator: " ")) > '\(output)' 2>&1 < /dev/null")
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        guard status == 0 else {
            throw NSError(domain: "PrivateServer", code: Int(status),
                          userInfo: [NSLocalizedDescriptionKey: "pg-throwaway.sh \(arguments.joined(separator: " ")) failed: \(text)"])
        }
        return text
    }
}
