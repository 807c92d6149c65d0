import Foundation
import Logging
import ServiceLifecycle
import TimbalModel

/// Starts syncs' runs: every tick, each enabled sync that is due gets a run (an ordinary job
/// carrying its `sync_id`), and `run` starts one at once. A sync never has two runs open.
actor SyncScheduler: Service {
    enum RunOutcome: Sendable {
        /// `sent` is false when the connector is offline: the job goes out when it reconnects.
        case started(jobID: String, sent: Bool)
        /// The previous run has not ended.
        case busy(openJobID: String?)
    }

    let store: PlaneStore
    private let dispatcher: JobDispatcher
    private let tickSeconds: Int
    private let logger: Logger
    /// Syncs whose run is being recorded right now (a tick and a `run` call may overlap).
    private var starting: Set<String> = []

    init(store: PlaneStore, hub: ConnectorHub, channel: ChannelEndpoint, tickSeconds: Int, logger: Logger) throws {
        try store.prepareSyncTables()
        self.store = store
        dispatcher = JobDispatcher(store: store, hub: hub, channel: channel)
        self.tickSeconds = max(1, tickSeconds)
        self.logger = logger
    }

    nonisolated func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await self.tick()
                try? await Task.sleep(for: .seconds(self.tickSeconds))
            }
        }
    }

    func tick(now: Date = Date()) async {
        let syncs: [SyncRow]
        do {
            syncs = try store.enabledSyncs()
        } catch {
            logger.error("sync scheduler: cannot read syncs", metadata: ["error": "\(error)"])
            return
        }
        for sync in syncs {
            do {
                let progress = try store.syncProgress(sync)
                let lastStart = progress.lastRun.flatMap { ISO8601DateFormatter.withFraction.date(from: $0.createdAt) }
                switch SyncSchedule.decide(runOpen: progress.runOpen, lastRunStart: lastStart, intervalSecs: sync.intervalSecs,
                                           consecutiveFailures: progress.consecutiveFailures, now: now) {
                case .disable:
                    let last = progress.lastRun?.message.map { ": \($0)" } ?? ""
                    let reason = "disabled after \(progress.consecutiveFailures) consecutive failed runs (last job \(progress.lastRun?.jobID ?? "?")\(last))"
                    try store.disableSync(id: sync.id, reason: reason)
                    logger.warning("sync disabled", metadata: ["sync.id": "\(sync.id)", "reason": "\(reason)"])
                case .run:
                    _ = try await start(sync, scheduled: true)
                case .busy, .wait:
                    break
                }
            } catch {
                logger.error("sync run not started", metadata: ["sync.id": "\(sync.id)", "error": "\(error)"])
            }
        }
    }

    /// Starts a run now (the `run` route), whether or not the sync is enabled.
    func runNow(_ sync: SyncRow) async throws -> RunOutcome {
        try await start(sync, scheduled: false)
    }

    private func start(_ sync: SyncRow, scheduled: Bool) async throws -> RunOutcome {
        guard !starting.contains(sync.id) else { return .busy(openJobID: nil) }
        starting.insert(sync.id)
        defer { starting.remove(sync.id) }
        // Paused or deleted since the tick read it: no scheduled run.
        if scheduled, try store.sync(id: sync.id, org: sync.orgID)?.enabled != true { return .busy(openJobID: nil) }
        let progress = try store.syncProgress(sync)
        if let last = progress.lastRun, last.isOpen { return .busy(openJobID: last.jobID) }
        let body = try sync.nextJobBody(progress)
        let spec = try JobSpec.decode(body)
        let (jobID, sent) = try await dispatcher.dispatch(org: sync.orgID, connectorID: sync.connectorID, spec: spec, body: body,
                                                         syncID: sync.id)
        logger.info("sync run started", metadata: ["sync.id": "\(sync.id)", "job.id": "\(jobID)", "mode": "\(spec.mode.rawValue)",
                                                   "sent": "\(sent)"])
        return .started(jobID: jobID, sent: sent)
    }
}
