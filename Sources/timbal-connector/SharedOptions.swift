import ArgumentParser
import Logging

/// Log options shared by every subcommand.
struct LoggingOptions: ParsableArguments {
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @Option(help: "Log format on stderr: logfmt or json.")
    var logFormat: String = "logfmt"

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level: \"\(logLevel)\" is not one of trace, debug, info, notice, warning, error, critical")
        }
        guard LogfmtHandler.Format(rawValue: logFormat) != nil else {
            throw ValidationError("--log-format: \"\(logFormat)\" is not one of logfmt, json")
        }
    }

    /// Bootstraps swift-log once for the process and returns the root logger.
    func bootstrap() -> Logger {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        let format = LogfmtHandler.Format(rawValue: logFormat) ?? .logfmt
        LoggingSystem.bootstrap { label in LogfmtHandler(label: label, level: level, format: format) }
        return Logger(label: "timbal-connector")
    }
}

/// `--config`, shared by the commands that read the daemon's config.json.
struct ConfigFileOption: ParsableArguments {
    @Option(help: "Path of config.json.")
    var config = "/etc/timbal-connector/config.json"
}
