import ArgumentParser
import ConnectorCore
import ConnectorDaemon
import FoundationEssentials

/// `timbal-connector jobs`: recent jobs from the daemon's state DB.
struct JobsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs",
        abstract: "List recent jobs from the state DB.",
        discussion: "Example:\n  timbal-connector jobs --state-dir /var/lib/timbal-connector")

    @Option(help: "State directory.") var stateDir = "/var/lib/timbal-connector"
    @Option(help: "How many jobs.") var limit = 20

    func run() throws {
        // The daemon's jobs (state.sqlite), then jobs run with `extract`, which only their KB records.
        let hasDaemonState = FileManager.default.fileExists(atPath: stateDir + "/state.sqlite")
        let hasKBs = FileManager.default.fileExists(atPath: stateDir + "/kb")
        guard hasDaemonState || hasKBs else {
            printError("error: \(stateDir): no state here (no state.sqlite, no kb/): is this the connector's --state-dir?")
            throw ExitCode.failure
        }
        let header = ["JOB", "TABLE", "STATE", "ROWS", "ROWS/S", "UPDATED"]
        var lines = [header]
        var seen: Set<String> = []
        if hasDaemonState {
            let store = try StateStore(stateDir: stateDir, mustExist: true)
            for row in try store.recentJobs(limit: limit) {
                let spec = try? JSONParser.parse(row.spec)
                var table = ""
                if case .string(let name)? = spec?["dest_table"] { table = name }
                lines.append([row.jobID, table, row.state.rawValue, String(row.rowsEmitted), String(Int(row.rowsPerSec)), row.updatedAt])
                seen.insert(row.jobID)
            }
        }
        let extracted = LocalKB.recordedJobs(stateDir: stateDir).filter { !seen.contains($0.jobID) }
            .sorted { $0.updatedAt > $1.updatedAt }.prefix(max(0, limit - (lines.count - 1)))
        for job in extracted {
            lines.append([job.jobID, job.destTable, job.state, String(job.rowsLanded), "-", job.updatedAt])
        }
        let widths = header.indices.map { column in lines.map { $0[column].count }.max() ?? 0 }
        for line in lines {
            print(line.enumerated().map { $1 + String(repeating: " ", count: widths[$0] - $1.count) }.joined(separator: "  "))
        }
        if lines.count == 1 { print("(no jobs)") }
    }
}
