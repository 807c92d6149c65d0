import ArgumentParser
import ConnectorDaemon

/// The connector's command line: one subcommand per job an operator has.
@main
struct TimbalConnector: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timbal-connector",
        abstract: "Feeds Timbal knowledge bases from your databases.",
        version: "timbal-connector \(ConnectorVersion.current)",
        subcommands: [RunCommand.self, EnrollCommand.self, CheckCommand.self, ExtractCommand.self, JobsCommand.self, VersionCommand.self])
}

enum ConnectorVersion {
    static let current = SystemInfo.version
}

/// `timbal-connector version`.
struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print the connector's version.")
    func run() { print("timbal-connector \(ConnectorVersion.current)") }
}
