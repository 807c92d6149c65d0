import Logging
import Synchronization

/// Logs a job's progress at info at most every `interval` seconds: rows, rows/s, ETA from the
/// planner's row estimate, and the cursor.
public final class ProgressLog: Sendable {
    private let logger: Logger
    private let interval: Double
    /// When the last line was logged; a report may come from any thread.
    private let last = Mutex(-Double.infinity)

    public init(logger: Logger, jobID: String, interval: Double) {
        var logger = logger
        logger[metadataKey: "job.id"] = "\(jobID)"
        self.logger = logger
        self.interval = interval
    }

    public func report(_ progress: ExtractProgress) {
        let now = monotonicSeconds()
        let due = last.withLock { last in
            guard now - last >= interval else { return false }
            last = now
            return true
        }
        guard due else { return }
        var metadata: Logger.Metadata = [
            "rows": "\(progress.totalRowsLanded)",
            "rows_per_sec": "\(Int(progress.rowsPerSecond))",
            "batches": "\(progress.batches)",
            "cursor": "\(progress.checkpoint?.summary ?? "start")",
        ]
        if let eta = progress.etaSeconds { metadata["eta_s"] = "\(Int(eta))" }
        logger.info("progress", metadata: metadata)
    }
}
