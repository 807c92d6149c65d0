import ArgumentParser
import FoundationEssentials
import ConnectorDaemon
import Logging

/// `timbal-connector enroll`: trades an enrollment token for the connector's credential.
struct EnrollCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enroll",
        abstract: "Trade an enrollment token for this connector's credential.",
        discussion: """
        Mint a token on the platform
        (POST /orgs/{org_id}/connectors/enrollment-tokens), then:
          timbal-connector enroll --url https://platform.example \\
              --token tok_... --state-dir /var/lib/timbal-connector
        The credential is stored in <state-dir>/credential.json, mode 0600.
        """)

    @Option(help: "Control plane URL.") var url: String
    @Option(help: "Enrollment token.") var token: String
    @Option(help: "State directory.") var stateDir = "/var/lib/timbal-connector"
    @Option(help: "Name shown on the platform (default: host name).") var name: String?
    @Option(help: "PEM file of the CA that signed the plane's certificate (a private CA).") var caFile: String?
    @Option(help: "HTTP CONNECT proxy, http://host:port (default: HTTPS_PROXY / NO_PROXY).") var proxy: String?
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        if let proxy, PlaneConnection.parseProxy(proxy) == nil {
            throw ValidationError("--proxy: expected http://host:port, got \"\(proxy)\"")
        }
        if let caFile, !FileManager.default.isReadableFile(atPath: caFile) {
            throw ValidationError("--ca-file: cannot read \(caFile)")
        }
    }

    func run() async throws {
        let logger = logging.bootstrap()
        var config = DaemonConfig(controlPlaneURL: url, name: name ?? DaemonConfig.hostName(), stateDir: stateDir)
        config.planeConnection = PlaneConnection(caFile: caFile, proxy: proxy)
        do {
            let credential = try await Enrollment.enroll(config: config, token: token, logger: logger)
            try credential.save(stateDir: stateDir)
            // A map pushed by the plane under an earlier identity is not this connector's.
            let pushed = stateDir + "/connections.pushed.json"
            if FileManager.default.fileExists(atPath: pushed) {
                try FileManager.default.removeItem(atPath: pushed)
                logger.notice("removed the connections map pushed under the previous enrollment; the configured connections.json is in force",
                              metadata: ["file": "\(pushed)"])
            }
            logger.info("enrolled", metadata: ["connector.id": "\(credential.connectorID)", "credential.file": "\(Credential.path(stateDir: stateDir))"])
            print(credential.connectorID)
        } catch {
            printError("error: \(error)")
            throw ExitCode.failure
        }
    }
}
