import ChannelProtocol
import ConnectorCore
import Logging
import Metrics

/// Runs dispatched jobs, at most `maxConcurrentJobs` at once, each on its own thread, and reports
/// what they do through the state DB and the outbox. Local jobs keep running while the channel is
/// down; their reports go out when it is back. What to do when is decided by `JobLifecycle` (a pure
/// state machine, tested on its own); this class performs its actions.
public final class JobRunner: @unchecked Sendable {
    private let config: DaemonConfig
    private let store: StateStore
    private let outbox: Outbox
    private let logger: Logger
    private let lock = Condition()
    private var lifecycle: JobLifecycle
    private var extractors: [String: Extractor] = [:]
    private var hostedSinks: [String: HostedSink] = [:]

    public init(config: DaemonConfig, store: StateStore, outbox: Outbox, logger: Logger) {
        self.config = config
        self.store = store
        self.outbox = outbox
        self.logger = logger
        lifecycle = JobLifecycle(maxConcurrent: config.maxConcurrentJobs)
    }

    /// Feeds the state machine under the lock, then performs its actions outside it.
    private func handle(_ event: JobLifecycle.Event) {
        let (actions, running): ([JobLifecycle.Action], [String: Extractor]) = lock.withLock {
            let actions = lifecycle.handle(event)
            lock.broadcast()
            return (actions, extractors)
        }
        for action in actions {
            switch action {
            case .start(let job):
                // Detached: a long-running daemon must not keep the stacks of finished jobs around.
                _ = OSThread(name: "timbal-job", detached: true) { [self] in
                    execute(jobID: job.jobID, specJSON: job.spec, resume: job.resume)
                    lock.withLock {
                        extractors.removeValue(forKey: job.jobID)
                        hostedSinks.removeValue(forKey: job.jobID)
                    }
                    handle(.ended(jobID: job.jobID))
                }
            case .askPlane(let jobID):
                outbox.send(ChannelMessage.resumeRequest(jobID: jobID).encoded())
            case .stopRunning(let jobID):
                // Not yet registered: `execute` sees `shouldStopAtOnce` when it does.
                running[jobID]?.stop()
            case .recordStopped(let jobID, let message):
                // A job this daemon never heard of is recorded too, so the plane hears the stop landed.
                _ = try? store.accept(jobID: jobID, spec: "{}")
                try? report(jobID, .init(state: .stopped, message: message))
            }
        }
        recordJobGauges()
    }

    /// A job from the plane. A job id the daemon already knows is not run twice: its state is reported again.
    public func dispatch(jobID: String, spec: JSONValue, resume: HostedResume?) {
        do {
            guard try store.accept(jobID: jobID, spec: spec.serialized()) else {
                logger.info("job already known; reporting its state again", metadata: ["job.id": "\(jobID)"])
                outbox.reportChanged(jobID: jobID)
                return
            }
            logger.info("job accepted", metadata: ["job.id": "\(jobID)"])
            try report(jobID, .init(state: .accepted))
            handle(.dispatched(.init(jobID: jobID, spec: spec, resume: resume)))
        } catch {
            logger.error("cannot record job", metadata: ["job.id": "\(jobID)", "error": "\(error)"])
        }
    }

    /// Jobs that were accepted or running when the daemon last stopped resume only once the plane
    /// confirms it still wants them (a job stopped while the connector was down stays stopped):
    /// each waits for the answer to its `resume_request` — `resume` (for a hosted job, where its
    /// data stands) or `stop`. While the plane is unreachable they wait; the source is not read
    /// on an order that may have been withdrawn.
    public func resumeUnfinished() throws {
        for (jobID, text) in try store.unfinishedJobs() {
            logger.info("interrupted job waits for the plane's go-ahead to resume", metadata: ["job.id": "\(jobID)"])
            handle(.interrupted(jobID: jobID, spec: (try? JSONParser.parse(text)) ?? .object([])))
        }
    }

    /// The plane's answer to a resume request: local jobs resume from their KB checkpoint,
    /// hosted ones from the plane's last landed batch.
    public func resume(_ position: HostedResume) {
        guard let spec = lock.withLock({ lifecycle.waitingForPlane[position.jobID] }) else { return }
        let local = spec["placement"] == .string("local")
        logger.info(local ? "resuming job from its checkpoint" : "resuming hosted job after the plane's last landed batch",
                    metadata: ["job.id": "\(position.jobID)"])
        handle(.planeSaysResume(position))
    }

    /// A new channel is up: ask again for what is pending, resend unacknowledged batches.
    public func channelUp() {
        let (sinks, waiting) = lock.withLock { (Array(hostedSinks.values), lifecycle.awaitingPlane) }
        for jobID in waiting { outbox.send(ChannelMessage.resumeRequest(jobID: jobID).encoded()) }
        sinks.forEach { $0.resendUnacknowledged() }
    }

    /// A hosted job whose batches have waited `seconds` without an acknowledgement, if any.
    public func jobWithOverdueAcks(after seconds: Double) -> String? {
        lock.withLock { hostedSinks.first { $0.value.ackOverdue(after: seconds) }?.key }
    }

    public func acknowledgeBatch(jobID: String, seq: Int64) {
        lock.withLock { hostedSinks[jobID] }?.acknowledge(seq: seq)
    }

    /// Stops a job within one batch; a queued or waiting job is recorded stopped without running.
    public func stop(jobID: String) {
        logger.info("stop requested", metadata: ["job.id": "\(jobID)"])
        handle(.stop(jobID: jobID))
    }

    /// Revocation: every job ends `stopped` for good (never resumed), and this waits for them.
    public func stopAll(message: String) {
        handle(.revoked(message: message))
        waitUntilIdle()
    }

    /// SIGTERM: take no new jobs, let each running job land its current batch and checkpoint, wait.
    /// Interrupted jobs stay `running` in the state DB and resume on the next start.
    public func drain() {
        handle(.shutdown)
        waitUntilIdle()
    }

    private func waitUntilIdle() {
        lock.withLock {
            while !lifecycle.running.isEmpty { lock.wait() }
        }
    }

    public var runningJobs: Int { lock.withLock { lifecycle.running.count } }

    /// Beats "jobs" every `seconds` from a thread of its own, each time after taking the runner's
    /// lock: a runner stuck holding its lock stops the beats (and so the systemd watchdog).
    public func startLivenessProbe(_ liveness: Liveness, every seconds: Double = 5) {
        let stop = StopFlag()
        _ = OSThread(name: "timbal-jobs-probe", detached: true) { [self] in
            repeat {
                lock.withLock {}
                liveness.beat("jobs")
            } while !stop.wait(seconds: seconds)
        }
    }

    private func report(_ jobID: String, _ change: StateStore.Change) throws {
        guard try store.record(jobID: jobID, change) != nil else { return }
        outbox.reportChanged(jobID: jobID)
        if let state = change.state, state.isTerminal {
            Counter(label: "timbal_jobs_finished_total", dimensions: [("state", state.rawValue)]).increment()
        }
        recordJobGauges()
    }

    /// Running and queued jobs, after every change (a job's end included, or the gauge sticks).
    private func recordJobGauges() {
        let (running, queued) = lock.withLock { (lifecycle.running.count, lifecycle.queue.count) }
        Gauge(label: "timbal_jobs", dimensions: [("state", "running")]).record(running)
        Gauge(label: "timbal_jobs", dimensions: [("state", "queued")]).record(queued)
    }

    /// Runs one job on the current thread, start to terminal report.
    private func execute(jobID: String, specJSON: JSONValue, resume: HostedResume?) {
        var jobLogger = logger
        jobLogger[metadataKey: "job.id"] = "\(jobID)"
        var connectionRef: String?
        if case .string(let ref)? = specJSON["source"]?["connection_ref"] { connectionRef = ref }
        let extractor: Extractor
        do {
            let spec = try JobSpec.decode(specJSON)
            if let missing = Capabilities.missing(for: spec) {
                throw JobSpecError(field: missing.hasPrefix("source:") ? "source.kind" : "placement",
                                   problem: "this connector lacks capability \"\(missing)\" (it has \(Capabilities.all.joined(separator: ", ")))")
            }
            // A local job whose KB recorded it completed, and whose report the daemon did not send
            // before it stopped (killed between the two): reported now, without reading again.
            if spec.placement == .local, let done = try LocalKB.completedRun(stateDir: config.stateDir, kbID: spec.kbID, jobID: jobID) {
                jobLogger.info("job had completed before the connector stopped; reporting it without reading again", metadata: [
                    "rows": "\(done.rowsLanded)"])
                try report(jobID, .init(state: .completed, rowsEmitted: done.rowsLanded, checkpoint: done.checkpoint?.json.serialized()))
                return
            }
            let settings = try Connections.load(path: config.effectiveConnectionsPath).settings(for: spec)
            let stopFlag = StopFlag()
            let store = self.store, outbox = self.outbox
            let sink: () throws -> BatchSink
            if spec.placement == .hosted {
                let hosted = try HostedSink(spec: spec, jobID: jobID, resume: resume, outbox: outbox, window: config.hostedWindow,
                                            stopFlag: stopFlag) { checkpoint, rows in
                    if (try? store.record(jobID: jobID, .init(rowsEmitted: rows, checkpoint: checkpoint?.json.serialized()))) != nil {
                        outbox.reportChanged(jobID: jobID)
                    }
                }
                lock.withLock { hostedSinks[jobID] = hosted }
                sink = { hosted }
            } else {
                let stateDir = config.stateDir
                sink = { try LocalKBSink(stateDir: stateDir, spec: spec, jobID: jobID) }
            }
            extractor = Extractor(spec: spec, jobID: jobID, connection: settings, logger: jobLogger, sink: sink)
            let hostedSink = lock.withLock { hostedSinks[jobID] }
            extractor.onStop {
                stopFlag.raise()
                hostedSink?.wake()
            }
            let alreadyStopped: Bool = lock.withLock {
                extractors[jobID] = extractor
                return lifecycle.shouldStopAtOnce(jobID)
            }
            if alreadyStopped { extractor.stop() }
        } catch {
            jobLogger.error("job failed", metadata: ["reason": "\(error)"])
            jobLogger.debug("job failed: detail", metadata: ["error": "\(String(reflecting: error))"])
            try? report(jobID, .init(state: .failed, message: PlaneSafeMessage.describe(error, connectionRef: connectionRef)))
            return
        }

        do {
            try report(jobID, .init(state: .running))
            jobLogger.info("job started")
            let isHosted = extractor.spec.placement == .hosted
            let progressLog = ProgressLog(logger: logger, jobID: jobID, interval: config.progressLogSeconds)
            let result = try extractor.run { progress in
                progressLog.report(progress)
                // Hosted rows count when the plane acknowledges them (HostedSink); local ones when landed.
                let change = StateStore.Change(
                    rowsEmitted: isHosted ? nil : progress.totalRowsLanded, rowsPerSec: progress.rowsPerSecond,
                    checkpoint: isHosted ? nil : progress.checkpoint?.json.serialized(), etaSeconds: progress.etaSeconds)
                try? self.report(jobID, change)
            }
            let drained = lock.withLock { lifecycle.wasInterruptedByShutdown(jobID) }
            if result.state == .stopped && drained {
                // Interrupted by shutdown: stays `running` and resumes on the next start.
                jobLogger.info("job interrupted by shutdown at a batch boundary", metadata: ["rows": "\(result.rowsLanded)"])
                return
            }
            let state: JobReport.State = result.state == .completed ? .completed : .stopped
            var change = StateStore.Change(state: state, rowsEmitted: result.totalRowsLanded, rowsPerSec: result.rowsPerSecond,
                                           checkpoint: result.checkpoint?.json.serialized(),
                                           message: result.warnings.isEmpty ? nil : result.warnings.joined(separator: "; "))
            change.rowsDeleted = result.rowsDeleted
            try report(jobID, change)
            jobLogger.info("job \(state.rawValue)", metadata: [
                "rows": "\(result.totalRowsLanded)", "duration_s": "\(twoDecimals(result.durationSeconds))",
                "rows_per_sec": "\(Int(result.rowsPerSecond))"])
        } catch {
            let (stopped, drained) = lock.withLock { (lifecycle.wasStopRequested(jobID), lifecycle.wasInterruptedByShutdown(jobID)) }
            if drained { return }
            if stopped || extractor.isStopRequested {
                try? report(jobID, .init(state: .stopped))
                jobLogger.info("job stopped")
            } else {
                jobLogger.error("job failed", metadata: ["reason": "\(error)"])
            jobLogger.debug("job failed: detail", metadata: ["error": "\(String(reflecting: error))"])
                try? report(jobID, .init(state: .failed, message: PlaneSafeMessage.describe(error, connectionRef: connectionRef)))
            }
        }
    }
}
