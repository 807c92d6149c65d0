import ArgumentParser
import ConnectorCore
import ConnectorDaemon

/// `timbal-connector jobs`: recent jobs from the daemon's state DB.
struct JobsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs",
        abstract: "List recent jobs from the state DB.",
        discussion: "Example:\n  timbal-connector jobs --state-dir /var/lib/timbal-connector --limit 20")

    @Option(help: "State directory.") var stateDir = "/var/lib/timbal-connector"
    @Option(help: "How many jobs.") var limit = 20

    func run() throws {
        let store: StateStore
        do { store = try StateStore(stateDir: stateDir, mustExist: true) } catch {
            printError("error: \(error)")
            throw ExitCode.failure
        }
        let rows = try store.recentJobs(limit: limit)
        let header = ["JOB", "TABLE", "STATE", "ROWS", "ROWS/S", "UPDATED"]
        var lines = [header]
        for row in rows {
            let spec = try? JSONParser.parse(row.spec)
            var table = ""
            if case .string(let name)? = spec?["dest_table"] { table = name }
            lines.append([row.jobID, table, row.state.rawValue, String(row.rowsEmitted), String(Int(row.rowsPerSec)), row.updatedAt])
        }
        let widths = header.indices.map { column in lines.map { $0[column].count }.max() ?? 0 }
        for line in lines {
            print(line.enumerated().map { $1 + String(repeating: " ", count: widths[$0] - $1.count) }.joined(separator: "  "))
        }
        if rows.isEmpty { print("(no jobs)") }
    }
}
