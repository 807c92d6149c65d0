import ConnectorCore
import Logging
import ServiceLifecycle

/// Waits for shutdown, then stops the running jobs at a batch boundary and waits for them; the
/// interrupted jobs stay resumable. Runs in the daemon's service group (after the channel in
/// shutdown order, so hosted batches in flight are still acknowledged).
public struct JobDrainService: Service {
    let runner: JobRunner
    let logger: Logger

    public init(runner: JobRunner, logger: Logger) {
        self.runner = runner
        self.logger = logger
    }

    public func run() async throws {
        try? await gracefulShutdown()
        logger.info("shutting down: finishing the current batch of each job", metadata: ["jobs": "\(runner.runningJobs)"])
        try await BlockingThread.run { [runner] in runner.drain() }
    }
}
