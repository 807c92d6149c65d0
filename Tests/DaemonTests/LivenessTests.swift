import Testing
@testable import ConnectorDaemon

/// The systemd watchdog is fed only while every part of the daemon beats.
@Suite("Liveness")
struct LivenessTests {
    final class FakeClock: @unchecked Sendable {
        var now = 100.0
    }

    @Test func aPartThatStopsBeatingIsStaleAndOneThatBeatsIsNot() {
        let clock = FakeClock()
        let liveness = Liveness(clock: { clock.now })
        #expect(liveness.stale(after: 90).isEmpty)
        liveness.beat("channel")
        liveness.beat("jobs")
        clock.now += 60
        liveness.beat("jobs")
        #expect(liveness.stale(after: 90).isEmpty)
        clock.now += 31
        #expect(liveness.stale(after: 90) == ["channel"])
        liveness.beat("channel")
        #expect(liveness.stale(after: 90).isEmpty)
    }
}
