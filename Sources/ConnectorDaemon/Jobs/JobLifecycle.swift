import ChannelProtocol
import ConnectorCore

/// The job runner's decisions as a pure state machine (no threads, no I/O): which jobs wait for
/// the plane, which are queued, which run, which were asked to stop; events go in, the actions the
/// runner must take come out. `JobRunner` is the shell that feeds it under its lock and performs
/// the actions (start a thread, stop an extractor, record a report, send a message).
struct JobLifecycle {
    struct Queued: Equatable {
        var jobID: String
        var spec: JSONValue
        var resume: HostedResume?
    }

    enum Event: Equatable {
        /// A new job from the plane (the state DB accepted its id).
        case dispatched(Queued)
        /// A job left accepted or running by the previous process: it waits for the plane.
        case interrupted(jobID: String, spec: JSONValue)
        /// The plane's answer to a resume request: the job may run (hosted: from this position).
        case planeSaysResume(HostedResume)
        case stop(jobID: String)
        /// A job's thread finished (whatever the outcome).
        case ended(jobID: String)
        /// SIGTERM: no new jobs; running ones land their batch and stay resumable.
        case shutdown
        /// The connector was revoked: every job ends stopped for good.
        case revoked(message: String)
    }

    enum Action: Equatable {
        /// Run the job on a thread of its own.
        case start(Queued)
        /// Send `resume_request` for the job.
        case askPlane(jobID: String)
        /// Ask a running job's extractor to stop at a batch boundary.
        case stopRunning(jobID: String)
        /// Record (and report) a job that is not running as stopped.
        case recordStopped(jobID: String, message: String)
    }

    let maxConcurrent: Int
    private(set) var waitingForPlane: [String: JSONValue] = [:]
    private(set) var queue: [Queued] = []
    private(set) var running: Set<String> = []
    private(set) var stopRequested: Set<String> = []
    private(set) var draining = false

    init(maxConcurrent: Int) { self.maxConcurrent = max(1, maxConcurrent) }

    mutating func handle(_ event: Event) -> [Action] {
        switch event {
        case .dispatched(let job):
            // (The state DB runs a job id once; the machine also never starts a job it was told to stop.)
            guard !draining, !knows(job.jobID), !stopRequested.contains(job.jobID) else { return [] }
            queue.append(job)
            return startWhatFits()
        case .interrupted(let jobID, let spec):
            guard !draining, !knows(jobID), !stopRequested.contains(jobID) else { return [] }
            waitingForPlane[jobID] = spec
            return [.askPlane(jobID: jobID)]
        case .planeSaysResume(let position):
            guard let spec = waitingForPlane.removeValue(forKey: position.jobID) else { return [] }
            let local = spec["placement"] == .string("local")
            queue.append(Queued(jobID: position.jobID, spec: spec, resume: local ? nil : position))
            return startWhatFits()
        case .stop(let jobID):
            stopRequested.insert(jobID)
            if running.contains(jobID) { return [.stopRunning(jobID: jobID)] }
            if waitingForPlane.removeValue(forKey: jobID) != nil {
                return [.recordStopped(jobID: jobID, message: "stopped while the connector was away; not resumed")]
            }
            queue.removeAll { $0.jobID == jobID }
            return [.recordStopped(jobID: jobID, message: "stopped before it started")]
        case .ended(let jobID):
            running.remove(jobID)
            return startWhatFits()
        case .shutdown:
            draining = true
            queue.removeAll()
            return running.sorted().map { .stopRunning(jobID: $0) }
        case .revoked(let message):
            draining = true
            let idle = queue.map(\.jobID) + waitingForPlane.keys.sorted()
            queue.removeAll()
            waitingForPlane.removeAll()
            stopRequested.formUnion(idle + running)
            return idle.map { .recordStopped(jobID: $0, message: message) } + running.sorted().map { .stopRunning(jobID: $0) }
        }
    }

    /// Jobs that still wait for the plane's answer (asked again on every new channel).
    var awaitingPlane: [String] { waitingForPlane.keys.sorted() }

    /// Whether the job should stop as soon as it starts (stopped or shut down meanwhile).
    func shouldStopAtOnce(_ jobID: String) -> Bool { draining || stopRequested.contains(jobID) }

    /// A job that ended `stopped` because of a shutdown, not a stop: it stays resumable.
    func wasInterruptedByShutdown(_ jobID: String) -> Bool { draining && !stopRequested.contains(jobID) }

    func wasStopRequested(_ jobID: String) -> Bool { stopRequested.contains(jobID) }

    private func knows(_ jobID: String) -> Bool {
        running.contains(jobID) || queue.contains { $0.jobID == jobID } || waitingForPlane[jobID] != nil
    }

    private mutating func startWhatFits() -> [Action] {
        var actions: [Action] = []
        while !draining, running.count < maxConcurrent, !queue.isEmpty {
            let next = queue.removeFirst()
            running.insert(next.jobID)
            actions.append(.start(next))
        }
        return actions
    }
}
