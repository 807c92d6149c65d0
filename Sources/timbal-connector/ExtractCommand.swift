import ArgumentParser
import ConnectorCore
import FoundationEssentials
import Logging

/// `timbal-connector extract`: runs one job with placement `local`, in the foreground.
struct ExtractCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Run one extract job into a local KB and exit.",
        discussion: """
        Reads the job spec (the control plane's dispatch body) from --job,
        resolves its connection_ref in --connections, and lands the rows in
        <state-dir>/kb/<kb_id>.sqlite. Running the same command again resumes
        from the last landed batch.

        Example:
          timbal-connector extract --job job.json \\
              --connections connections.json --state-dir ./state
        """)

    @Option(help: "Job spec JSON file (the control plane's dispatch body, docs/extraction.md).")
    var job: String

    @Option(help: "connections.json mapping connection_ref names to DSNs.")
    var connections: String

    @Option(help: "State directory; KBs live in <state-dir>/kb/<kb_id>.sqlite.")
    var stateDir: String

    @Option(help: "Job id (default: derived from the job file's content, so a rerun resumes).")
    var jobID: String?

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        let logger = logging.bootstrap()
        do {
            let result = try await runJob(logger: logger)
            print(Summary.line(for: result))
            if result.state == .stopped { throw ExitCode(3) }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            // The SQL that failed, for --log-level debug; the one line below is for everyone.
            logger.debug("failed", metadata: ["error": "\(String(reflecting: error))"])
            printError("error: \(error)")
            throw ExitCode.failure
        }
    }

    private func runJob(logger: Logger) async throws -> ExtractResult {
        guard let bytes = FileManager.default.contents(atPath: job) else {
            throw JobSpecError(field: "--job", problem: "cannot read \(job)")
        }
        let text = String(decoding: bytes, as: UTF8.self)
        let spec = try JobSpec.decode(json: text)
        guard spec.placement == .local else {
            throw JobSpecError(field: "placement", problem: "\"hosted\" sends rows to the control plane, which needs the connector daemon; this command runs \"local\" jobs only")
        }
        let loaded = try Connections.load(path: connections)
        for warning in loaded.warnings { logger.warning("\(warning)") }
        let settings = try loaded.settings(for: spec)
        if let jobID, jobID.allSatisfy(\.isWhitespace) {
            throw JobSpecError(field: "--job-id", problem: "must not be empty")
        }
        let id = jobID ?? Self.derivedJobID(Array(bytes))
        let extractor = Extractor(spec: spec, jobID: id, connection: settings, stateDir: stateDir, logger: logger)
        let signals = SignalStopper(onSignal: { extractor.stop() })
        defer { signals.cancel() }
        let reporter = ProgressLog(logger: logger, jobID: id, interval: 1)
        return try await BlockingThread.run {
            try extractor.run(onProgress: reporter.report)
        }
    }

    /// Same file, same id: rerunning the command resumes the job instead of starting a new one.
    static func derivedJobID(_ bytes: [UInt8]) -> String {
        "cli-" + fnv1aHex(bytes)
    }
}
