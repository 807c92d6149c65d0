import ChannelProtocol
import ConnectorCore
@testable import ConnectorDaemon
import Testing

/// The job runner's state machine, without threads or I/O: every event in every situation, and
/// invariants over many random event sequences.
@Suite("Job lifecycle (state machine)")
struct JobLifecycleTests {
    typealias Job = JobLifecycle.Queued

    static let local: JSONValue = .object([("placement", .string("local"))])
    static let hosted: JSONValue = .object([("placement", .string("hosted"))])
    static func job(_ id: String, _ spec: JSONValue = local) -> Job { Job(jobID: id, spec: spec, resume: nil) }
    static func position(_ id: String, seq: Int64 = 3) -> HostedResume {
        HostedResume(jobID: id, seq: seq, checkpoint: nil, rowsLanded: 30)
    }

    @Test func dispatchedJobsStartUpToTheLimitThenQueueInOrder() {
        var machine = JobLifecycle(maxConcurrent: 2)
        #expect(machine.handle(.dispatched(Self.job("a"))) == [.start(Self.job("a"))])
        #expect(machine.handle(.dispatched(Self.job("b"))) == [.start(Self.job("b"))])
        #expect(machine.handle(.dispatched(Self.job("c"))).isEmpty)
        #expect(machine.handle(.dispatched(Self.job("d"))).isEmpty)
        #expect(machine.queue.map(\.jobID) == ["c", "d"])
        #expect(machine.handle(.ended(jobID: "b")) == [.start(Self.job("c"))])
        #expect(machine.handle(.ended(jobID: "a")) == [.start(Self.job("d"))])
        #expect(machine.handle(.ended(jobID: "c")).isEmpty && machine.running == ["d"])
    }

    @Test func aJobIDIsNeverQueuedTwice() {
        var machine = JobLifecycle(maxConcurrent: 1)
        _ = machine.handle(.dispatched(Self.job("a")))
        #expect(machine.handle(.dispatched(Self.job("a"))).isEmpty)
        _ = machine.handle(.dispatched(Self.job("b")))
        #expect(machine.handle(.dispatched(Self.job("b"))).isEmpty)
        #expect(machine.queue.map(\.jobID) == ["b"])
    }

    @Test func interruptedJobsWaitForThePlaneAndResumeOnlyWhenItSaysSo() {
        var machine = JobLifecycle(maxConcurrent: 2)
        #expect(machine.handle(.interrupted(jobID: "l", spec: Self.local)) == [.askPlane(jobID: "l")])
        #expect(machine.handle(.interrupted(jobID: "h", spec: Self.hosted)) == [.askPlane(jobID: "h")])
        #expect(machine.running.isEmpty && machine.awaitingPlane == ["h", "l"])
        // A local job resumes from its KB checkpoint (no position); a hosted one from the plane's.
        #expect(machine.handle(.planeSaysResume(Self.position("l"))) == [.start(Job(jobID: "l", spec: Self.local, resume: nil))])
        #expect(machine.handle(.planeSaysResume(Self.position("h"))) == [.start(Job(jobID: "h", spec: Self.hosted, resume: Self.position("h")))])
        // An answer nobody waits for (a second one, or for an unknown job) changes nothing.
        #expect(machine.handle(.planeSaysResume(Self.position("h"))).isEmpty)
        #expect(machine.handle(.planeSaysResume(Self.position("x"))).isEmpty)
    }

    @Test func aStopEndsAJobWhereverItIs() {
        var machine = JobLifecycle(maxConcurrent: 1)
        _ = machine.handle(.dispatched(Self.job("run")))
        _ = machine.handle(.dispatched(Self.job("queued")))
        _ = machine.handle(.interrupted(jobID: "waiting", spec: Self.local))
        #expect(machine.handle(.stop(jobID: "run")) == [.stopRunning(jobID: "run")])
        #expect(machine.handle(.stop(jobID: "queued")) == [.recordStopped(jobID: "queued", message: "stopped before it started")])
        #expect(machine.handle(.stop(jobID: "waiting")) == [.recordStopped(jobID: "waiting", message: "stopped while the connector was away; not resumed")])
        #expect(machine.handle(.stop(jobID: "never-heard-of")) == [.recordStopped(jobID: "never-heard-of", message: "stopped before it started")])
        // The plane's late go-ahead for a job stopped meanwhile starts nothing.
        #expect(machine.handle(.planeSaysResume(Self.position("waiting"))).isEmpty)
        // The running job's end frees the slot; the stopped queued job does not take it.
        #expect(machine.handle(.ended(jobID: "run")).isEmpty)
        #expect(machine.wasStopRequested("run") && !machine.wasInterruptedByShutdown("run"))
    }

    @Test func shutdownStopsRunningJobsButKeepsThemResumableAndTakesNothingNew() {
        var machine = JobLifecycle(maxConcurrent: 1)
        _ = machine.handle(.dispatched(Self.job("a")))
        _ = machine.handle(.dispatched(Self.job("b")))
        #expect(machine.handle(.shutdown) == [.stopRunning(jobID: "a")])
        #expect(machine.shouldStopAtOnce("a") && machine.wasInterruptedByShutdown("a"))
        #expect(machine.handle(.ended(jobID: "a")).isEmpty, "the queued job must not start during shutdown")
        #expect(machine.handle(.dispatched(Self.job("c"))).isEmpty)
        #expect(machine.handle(.interrupted(jobID: "d", spec: Self.local)).isEmpty)
        #expect(machine.running.isEmpty && machine.queue.isEmpty)
    }

    @Test func revocationStopsEveryJobForGood() {
        var machine = JobLifecycle(maxConcurrent: 1)
        _ = machine.handle(.dispatched(Self.job("a")))
        _ = machine.handle(.dispatched(Self.job("b")))
        _ = machine.handle(.interrupted(jobID: "c", spec: Self.hosted))
        let actions = machine.handle(.revoked(message: "revoked"))
        #expect(actions == [.recordStopped(jobID: "b", message: "revoked"), .recordStopped(jobID: "c", message: "revoked"),
                            .stopRunning(jobID: "a")])
        #expect(machine.wasStopRequested("a") && !machine.wasInterruptedByShutdown("a"))
        #expect(machine.handle(.planeSaysResume(Self.position("c"))).isEmpty)
        #expect(machine.handle(.ended(jobID: "a")).isEmpty && machine.running.isEmpty)
    }

    /// Random sequences of every event: the limit holds, a stopped job never starts again, nothing
    /// starts during a shutdown, every started job was dispatched or confirmed by the plane.
    @Test(arguments: 0..<40)
    func invariantsHoldOverRandomEventSequences(seed: Int) {
        var random = SplitMix(seed: UInt64(seed))
        let ids = ["a", "b", "c", "d", "e"]
        var machine = JobLifecycle(maxConcurrent: 1 + Int(random.next() % 3))
        var everStopped: Set<String> = [], started: Set<String> = [], running: Set<String> = []
        var dispatched: Set<String> = [], confirmed: Set<String> = []
        var shutDown = false
        for _ in 0..<200 {
            let id = ids[Int(random.next() % UInt64(ids.count))]
            let event: JobLifecycle.Event
            switch random.next() % 20 {
            case 0..<5: event = .dispatched(Self.job(id))
            case 5..<7: event = .interrupted(jobID: id, spec: random.next() % 2 == 0 ? Self.local : Self.hosted)
            case 7..<10: event = .planeSaysResume(Self.position(id))
            case 10..<12: event = .stop(jobID: id)
            case 12..<18: event = .ended(jobID: running.randomElement(using: &random) ?? id)
            case 18: event = .shutdown
            default: event = random.next() % 4 == 0 ? .revoked(message: "r") : .ended(jobID: id)
            }
            if case .ended(let ended) = event, !running.contains(ended) { continue }  // only threads that exist end
            switch event {
            case .dispatched(let job): dispatched.insert(job.jobID)
            case .planeSaysResume(let position) where machine.awaitingPlane.contains(position.jobID): confirmed.insert(position.jobID)
            case .shutdown, .revoked: shutDown = true
            case .ended(let ended): running.remove(ended)
            default: break
            }
            for action in machine.handle(event) {
                if case .start(let job) = action {
                    #expect(!shutDown, "a job started during a shutdown (seed \(seed))")
                    #expect(!everStopped.contains(job.jobID), "stopped job \(job.jobID) started (seed \(seed))")
                    #expect(!running.contains(job.jobID), "job \(job.jobID) started twice at once (seed \(seed))")
                    #expect(dispatched.contains(job.jobID) || confirmed.contains(job.jobID))
                    started.insert(job.jobID)
                    running.insert(job.jobID)
                }
            }
            if case .stop(let stopped) = event { everStopped.insert(stopped) }
            if case .revoked = event { everStopped.formUnion(ids) }
            #expect(running.count <= machine.maxConcurrent)
            #expect(machine.running == running)
        }
    }
}

/// A small seeded generator, so a failing sequence can be replayed.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
