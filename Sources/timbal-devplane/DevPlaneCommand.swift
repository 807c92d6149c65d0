import ArgumentParser
import DevPlane
import Foundation
import Hummingbird
import Logging

/// `timbal-devplane`: the development control plane (platform job routes, connector channel, hosted KBs).
@main
struct DevPlaneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timbal-devplane",
        abstract: "A development control plane for timbal-connector, on one machine.",
        discussion: """
        Serves the platform's public job routes (bearer auth with --admin-token), the connector
        channel (/v1/connect/channel), enrollment (/v1/connect/enroll) and hosted KBs
        (POST /k2/{kb_id}/query). State persists in --data-dir across restarts.

        Example:
          timbal-devplane --port 8080 --data-dir ./plane --admin-token secret --kbs 1,42
        """,
        // The devplane ships with the connector and carries its version.
        version: "timbal-devplane 0.2.0")

    @Option(help: "Address to listen on.") var host = DevPlaneConfig.defaultHost
    @Option(help: "Port to listen on (0 picks a free one; the port is printed).") var port = DevPlaneConfig.defaultPort
    @Option(help: "Directory for plane.sqlite and hosted KBs.") var dataDir = DevPlaneConfig.defaultDataDir
    @Option(help: "Bearer token of the platform routes.") var adminToken = DevPlaneConfig.defaultAdminToken
    @Option(help: "Organisation ids served, comma-separated.") var orgs = DevPlaneConfig.defaultOrgs.joined(separator: ",")
    @Option(help: "Knowledge base ids that exist, comma-separated.") var kbs = DevPlaneConfig.defaultKBs.map(String.init).joined(separator: ",")
    @Option(help: "Log level.") var logLevel = "info"
    @Option(help: "PEM certificate chain: serve HTTPS/WSS (with --tls-key).") var tlsCert: String?
    @Option(help: "PEM private key of --tls-cert.") var tlsKey: String?
    @Option(name: .customLong("sync-tick-s"), help: "Seconds between looks for due syncs (>= 1).") var syncTickS = DevPlaneConfig.defaultSyncTickSeconds

    func validate() throws {
        guard kbs.split(separator: ",").allSatisfy({ Int64($0) != nil }) else {
            throw ValidationError("--kbs: expected comma-separated integers, got \"\(kbs)\"")
        }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level: unknown level \"\(logLevel)\"") }
        guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("--tls-cert and --tls-key go together") }
        guard syncTickS >= 1 else { throw ValidationError("--sync-tick-s: must be >= 1, got \(syncTickS)") }
    }

    func run() async throws {
        var logger = Logger(label: "timbal-devplane")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        var config = DevPlaneConfig(host: host, port: port, dataDir: dataDir, adminToken: adminToken,
                                    orgs: orgs.split(separator: ",").map(String.init),
                                    kbs: kbs.split(separator: ",").compactMap { Int64($0) })
        config.tlsCertificate = tlsCert
        config.tlsKey = tlsKey
        config.syncTickSeconds = syncTickS
        let scheme = tlsCert == nil ? "http" : "https", host = config.host
        let app = try DevPlane.application(config: config, logger: logger) { port in
            // Scripts and tests read the port from this line (with --port 0 it is the one picked).
            FileHandle.standardOutput.write(Data("timbal-devplane listening on \(scheme)://\(host):\(port)\n".utf8))
        }
        try await app.runService()
    }
}
