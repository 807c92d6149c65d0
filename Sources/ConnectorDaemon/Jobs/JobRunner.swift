import ChannelProtocol
import ConnectorCore
import Logging
import Metrics

/// Runs dispatched jobs, at most `maxConcurrentJobs` at once, each on its own thread, and reports
/// what they do through the state DB and the outbox. Local jobs keep running while the channel is
/// down; their reports go out when it is back.
public final class JobRunner: @unchecked Sendable {
    private let config: DaemonConfig
    private let store: StateStore
    private let outbox: Outbox
    private let logger: Logger
    private let lock = Condition()
    private var running: [String: Extractor] = [:]
    private var active: Set<String> = []
    private var hostedSinks: [String: HostedSink] = [:]
    private var queue: [(jobID: String, spec: JSONValue, resume: HostedResume?)] = []
    private var awaitingResume: [String: JSONValue] = [:]
    private var stopRequested: Set<String> = []
    private var draining = false

    public init(config: DaemonConfig, store: StateStore, outbox: Outbox, logger: Logger) {
        self.config = config
        self.store = store
        self.outbox = outbox
        self.logger = logger
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
            enqueue(jobID: jobID, spec: spec, resume: resume)
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
            lock.withLock { awaitingResume[jobID] = try? JSONParser.parse(text) }
            outbox.send(ChannelMessage.resumeRequest(jobID: jobID).encoded())
        }
    }

    /// The plane's answer to a resume request: local jobs resume from their KB checkpoint,
    /// hosted ones from the plane's last landed batch.
    public func resume(_ position: HostedResume) {
        guard let spec = lock.withLock({ awaitingResume.removeValue(forKey: position.jobID) }) else { return }
        let local = spec["placement"] == .string("local")
        logger.info(local ? "resuming job from its checkpoint" : "resuming hosted job after the plane's last landed batch",
                    metadata: ["job.id": "\(position.jobID)"])
        enqueue(jobID: position.jobID, spec: spec, resume: local ? nil : position)
    }

    /// A new channel is up: ask again for what is pending, resend unacknowledged batches.
    public func channelUp() {
        let (sinks, waiting) = lock.withLock { (Array(hostedSinks.values), Array(awaitingResume.keys)) }
        for jobID in waiting { outbox.send(ChannelMessage.resumeRequest(jobID: jobID).encoded()) }
        sinks.forEach { $0.resendUnacknowledged() }
    }

    public func acknowledgeBatch(jobID: String, seq: Int64) {
        lock.withLock { hostedSinks[jobID] }?.acknowledge(seq: seq)
    }

    /// Stops a job within one batch; a queued job is marked stopped without running.
    public func stop(jobID: String) {
        let extractor: Extractor? = lock.withLock {
            stopRequested.insert(jobID)
            if let index = queue.firstIndex(where: { $0.jobID == jobID }) { queue.remove(at: index) }
            awaitingResume.removeValue(forKey: jobID)
            return running[jobID]
        }
        logger.info("stop requested", metadata: ["job.id": "\(jobID)"])
        if let extractor {
            extractor.stop()
        } else {
            // A job this daemon never heard of is recorded as stopped, so the plane hears that the stop landed.
            _ = try? store.accept(jobID: jobID, spec: "{}")
            try? report(jobID, .init(state: .stopped, message: "stopped before it started"))
        }
    }

    /// Revocation: every job ends `stopped` for good (never resumed), and this waits for them.
    public func stopAll(message: String) {
        let (extractors, idle): ([Extractor], [String]) = lock.withLock {
            draining = true
            let idle = queue.map(\.jobID) + Array(awaitingResume.keys)
            stopRequested.formUnion(idle + Array(running.keys))
            queue.removeAll()
            awaitingResume.removeAll()
            return (Array(running.values), idle)
        }
        for jobID in idle { try? report(jobID, .init(state: .stopped, message: message)) }
        extractors.forEach { $0.stop() }
        lock.withLock {
            while !active.isEmpty { lock.wait() }
        }
    }

    /// SIGTERM: take no new jobs, let each running job land its current batch and checkpoint, wait.
    /// Interrupted jobs stay `running` in the state DB and resume on the next start.
    public func drain() {
        let extractors: [Extractor] = lock.withLock {
            draining = true
            queue.removeAll()
            return Array(running.values)
        }
        extractors.forEach { $0.stop() }
        lock.withLock {
            while !active.isEmpty { lock.wait() }
        }
    }

    public var runningJobs: Int { lock.withLock { active.count } }

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

    private func enqueue(jobID: String, spec: JSONValue, resume: HostedResume?) {
        lock.withLock {
            guard !draining else { return }
            queue.append((jobID, spec, resume))
        }
        startQueued()
    }

    private func startQueued() {
        lock.withLock {
            while !draining, active.count < config.maxConcurrentJobs, !queue.isEmpty {
                let next = queue.removeFirst()
                active.insert(next.jobID)
                // Detached: a long-running daemon must not keep the stacks of finished jobs around.
                _ = OSThread(name: "timbal-job", detached: true) { [self] in
                    execute(jobID: next.jobID, specJSON: next.spec, resume: next.resume)
                    lock.withLock {
                        active.remove(next.jobID)
                        running.removeValue(forKey: next.jobID)
                        hostedSinks.removeValue(forKey: next.jobID)
                        lock.broadcast()
                    }
                    startQueued()
                    recordJobGauges()
                }
            }
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
        let (running, queued) = lock.withLock { (active.count, queue.count) }
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
                running[jobID] = extractor
                return stopRequested.contains(jobID) || draining
            }
            if alreadyStopped { extractor.stop() }
        } catch {
            jobLogger.error("job failed", metadata: ["reason": "\(error)"])
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
            let drained = lock.withLock { draining && !stopRequested.contains(jobID) }
            if result.state == .stopped && drained {
                // Interrupted by shutdown: stays `running` and resumes on the next start.
                jobLogger.info("job interrupted by shutdown at a batch boundary", metadata: ["rows": "\(result.rowsLanded)"])
                return
            }
            let state: JobReport.State = result.state == .completed ? .completed : .stopped
            try report(jobID, .init(state: state, rowsEmitted: result.totalRowsLanded, rowsPerSec: result.rowsPerSecond,
                                    checkpoint: result.checkpoint?.json.serialized()))
            jobLogger.info("job \(state.rawValue)", metadata: [
                "rows": "\(result.totalRowsLanded)", "duration_s": "\(twoDecimals(result.durationSeconds))",
                "rows_per_sec": "\(Int(result.rowsPerSecond))"])
        } catch {
            let (stopped, drained) = lock.withLock { (stopRequested.contains(jobID), draining) }
            if drained && !stopped { return }
            if stopped || extractor.isStopRequested {
                try? report(jobID, .init(state: .stopped))
                jobLogger.info("job stopped")
            } else {
                jobLogger.error("job failed", metadata: ["reason": "\(error)"])
                try? report(jobID, .init(state: .failed, message: PlaneSafeMessage.describe(error, connectionRef: connectionRef)))
            }
        }
    }
}
