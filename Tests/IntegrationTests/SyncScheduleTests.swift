@testable import DevPlane
import Foundation
import Testing

/// The sync scheduler's rules, without a plane: backoff, the cap, disabling at ten failures.
@Suite("Sync schedule")
struct SyncScheduleTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func theIntervalDoublesPerFailureUpToAnHour() {
        #expect(SyncSchedule.effectiveInterval(intervalSecs: 30, consecutiveFailures: 0) == 30)
        #expect(SyncSchedule.effectiveInterval(intervalSecs: 30, consecutiveFailures: 1) == 60)
        #expect(SyncSchedule.effectiveInterval(intervalSecs: 30, consecutiveFailures: 3) == 240)
        #expect(SyncSchedule.effectiveInterval(intervalSecs: 30, consecutiveFailures: 7) == 3600, "30 * 128 is capped")
        #expect(SyncSchedule.effectiveInterval(intervalSecs: 1, consecutiveFailures: 500) == 3600)
        #expect(SyncSchedule.effectiveInterval(intervalSecs: 7200, consecutiveFailures: 2) == 7200, "backoff never shortens")
    }

    @Test func aSyncRunsWhenDueAndNeverOverItsOpenRun() {
        func decide(open: Bool = false, last: Double?, interval: Int64 = 60, failures: Int = 0, now: Double) -> SyncSchedule.Decision {
            SyncSchedule.decide(runOpen: open, lastRunStart: last.map { start.addingTimeInterval($0) }, intervalSecs: interval,
                                consecutiveFailures: failures, now: start.addingTimeInterval(now))
        }
        #expect(decide(last: nil, now: 0) == .run, "a new sync runs at once")
        #expect(decide(last: 0, now: 59) == .wait(until: start.addingTimeInterval(60)))
        #expect(decide(last: 0, now: 60) == .run)
        #expect(decide(open: true, last: 0, now: 600) == .busy)
        #expect(decide(last: 0, failures: 2, now: 200) == .wait(until: start.addingTimeInterval(240)))
        #expect(decide(last: 0, failures: 2, now: 240) == .run)
        #expect(SyncSchedule.nextRunAt(lastRunStart: nil, intervalSecs: 60, consecutiveFailures: 3) == nil)
    }

    @Test func theTenthFailureInARowDisablesTheSync() {
        func decide(failures: Int, open: Bool = false) -> SyncSchedule.Decision {
            SyncSchedule.decide(runOpen: open, lastRunStart: start, intervalSecs: 1, consecutiveFailures: failures,
                                now: start.addingTimeInterval(7200))
        }
        #expect(decide(failures: 9) == .run)
        #expect(decide(failures: 10) == .disable)
        #expect(decide(failures: 10, open: true) == .disable)
        #expect(decide(failures: 11) == .disable)
    }
}
