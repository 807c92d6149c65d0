import ArgumentParser
import ConnectorCore
import ConnectorDaemon
import Logging

/// `timbal-connector check`: is everything in place to run? Exit status 0 when all is well.
struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check the config, each connection (read-only) and the control plane.",
        discussion: """
        Validates config.json and connections.json, connects to each connection
        read-only and reports the server version and what the role can read
        (within the allow-list), checks the credential and that the control
        plane accepts it. One line per check; exit 0 if all pass.

        Example:
          timbal-connector check --config /etc/timbal-connector/config.json
        """)

    @OptionGroup var configFile: ConfigFileOption
    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        let logger = logging.bootstrap()
        var failures = 0
        func line(_ ok: Bool, _ what: String, _ detail: String) {
            if !ok { failures += 1 }
            print("\(ok ? "ok  " : "FAIL")  \(what): \(detail)")
        }
        let daemon: DaemonConfig
        do {
            daemon = try DaemonConfig.load(path: configFile.config)
            line(true, "config", configFile.config)
            for warning in daemon.warnings { print("warn  config: \(warning)") }
        } catch {
            line(false, "config", "\(error)")
            throw ExitCode.failure
        }
        do {
            let connections = try Connections.load(path: daemon.effectiveConnectionsPath)
            line(true, "connections", "\(daemon.effectiveConnectionsPath) (\(connections.entries.count) defined\(daemon.effectiveConnectionsPath == daemon.connectionsPath ? "" : "; pushed by the control plane, in place of \(daemon.connectionsPath)"))")
            for warning in connections.warnings { print("warn  connections: \(warning)") }
            for name in connections.entries.keys.sorted() {
                let settings = connections.entries[name]!
                do {
                    let report = try await BlockingThread.run { try SourceCheck.run(settings) }
                    let ok = report.readOnly && report.unreadable.isEmpty
                    var detail = "PostgreSQL \(report.serverVersion), \(report.readOnly ? "read-only session" : "session NOT read-only"), \(report.readableTables) tables readable"
                    if !report.unreadable.isEmpty { detail += "; cannot read allowed \(report.unreadable.joined(separator: ", "))" }
                    line(ok, "connection \(name)", detail)
                    if !report.powers.isEmpty {
                        print("warn  connection \(name): the role holds \(report.powers.joined(separator: ", ")): ad-hoc queries run with its privileges; give the connector a role that can only read")
                    }
                } catch {
                    line(false, "connection \(name)", "\(error)")
                }
            }
            await checkJobCursors(daemon: daemon, connections: connections)
        } catch {
            line(false, "connections", "\(error)")
        }
        do {
            let credential = try Credential.load(stateDir: daemon.stateDir)
            if Credential.isRevoked(stateDir: daemon.stateDir) {
                line(false, "credential", "connector \(credential.connectorID) was revoked by the control plane; enroll again")
            } else {
                line(true, "credential", "connector \(credential.connectorID)")
            }
            switch await ControlPlaneProbe.check(config: daemon, credential: credential, logger: logger) {
            case .success(let id): line(true, "control plane", "\(daemon.channelURL()) accepts connector \(id)")
            case .failure(let failure): line(false, "control plane", failure.description)
            }
        } catch {
            line(false, "credential", "\(error)")
        }
        if failures > 0 { throw ExitCode.failure }
    }

    /// For the daemon's recent jobs (syncs' runs included), says which read a table whose cursor
    /// has no index: such a job is correct and bounded (one sort of the table per run) but costs
    /// the server a full sort and temporary disk about the table's size. A warning, not a failure.
    private func checkJobCursors(daemon: DaemonConfig, connections: Connections) async {
        guard let store = try? StateStore(stateDir: daemon.stateDir, mustExist: true),
              let jobs = try? store.recentJobs(limit: 50) else { return }
        var seen: Set<String> = []
        for job in jobs {
            guard let spec = try? JobSpec.decode(json: job.spec), let cursor = spec.source.cursorColumn,
                  let settings = connections.entries[spec.source.connectionRef] else { continue }
            let source = "\(spec.source.schema).\(spec.source.table)"
            guard seen.insert("\(spec.source.connectionRef)|\(source)|\(cursor)").inserted else { continue }
            guard let report = try? await BlockingThread.run({ try SourceCheck.cursor(settings, schema: spec.source.schema,
                                                                                      table: spec.source.table, cursor: cursor) }),
                  !report.indexed else { continue }
            let megabytes = (report.tableBytes + (1 << 20) - 1) >> 20
            print("warn  job \(job.jobID): \(source) has no index leading with cursor \"\(cursor)\" (table \(megabytes) MiB, ~\(max(0, report.estimatedRows)) rows): each run sorts the table once and the server keeps the sorted rows (temporary disk about the table's size); CREATE INDEX CONCURRENTLY ON \(source) (\(cursor)) makes runs read in 1 s index segments")
        }
    }
}
