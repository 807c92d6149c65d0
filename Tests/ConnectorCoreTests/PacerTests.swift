import Testing
@testable import ConnectorCore

@Suite("Pacing")
struct PacerTests {
    /// Drives a pacer on a simulated clock as the extractor does: a batch is admitted (its rows
    /// spent) when it may go and lands `landTime` seconds later; `stalls` maps a batch number to
    /// extra seconds lost before it (a lock, a hung server).
    func simulate(pacing: Pacing, batchRows: Int, seconds: Double, landTime: Double = 0.001,
                  stalls: [Int: Double] = [:]) -> [(start: Double, rows: Int)] {
        var pacer = Pacer(pacing: pacing)
        var now = 0.0
        var landed: [(start: Double, rows: Int)] = []
        let rows = pacer.rowsPerQuery(batchRows: batchRows)
        while now < seconds {
            now += stalls[landed.count] ?? 0
            now += max(0, pacer.delayBeforeRows(rows, now: now))
            pacer.spend(rows, now: now)
            now += landTime
            guard now < seconds else { break }
            landed.append((now, rows))
        }
        return landed
    }

    func largestWindow(_ fetches: [(start: Double, rows: Int)]) -> Int {
        var best = 0
        for (index, fetch) in fetches.enumerated() {
            let inWindow = fetches[index...].prefix { $0.start < fetch.start + 1 }.reduce(0) { $0 + $1.rows }
            best = max(best, inWindow)
        }
        return best
    }

    /// Landing time earns tokens like any other time: spending only once a batch had landed
    /// lost it to the full bucket (0.94 of a 50,000 rows/s cap with 3 ms commits, bench/pacing.sh).
    @Test(arguments: [100, 1_000, 10_000, 50_000], [0.001, 0.005, 0.02])
    func holdsTheCapSustainedAndInEveryWindow(cap: Int, landTime: Double) {
        let fetches = simulate(pacing: Pacing(maxRowsPerSec: cap), batchRows: 5000, seconds: 30, landTime: landTime)
        let total = fetches.reduce(0) { $0 + $1.rows }
        let rate = Double(total) / 30
        #expect(abs(rate / Double(cap) - 1) <= 0.01, "rate \(rate) for a cap of \(cap)")
        #expect(Double(largestWindow(fetches)) <= 1.1 * Double(cap))
    }

    /// After a stall (4.5 s, then 90 s) the job does not catch up: no window goes over 1.1x the cap.
    @Test(arguments: [1_000, 5_000, 20_000])
    func aStallIsNeverPaidBackInABurst(cap: Int) {
        let landed = simulate(pacing: Pacing(maxRowsPerSec: cap), batchRows: 5000, seconds: 120,
                              stalls: [40: 4.5, 400: 90])
        #expect(Double(largestWindow(landed)) <= 1.1 * Double(cap))
        let gapsOverOneSecond = zip(landed, landed.dropFirst()).filter { $1.start - $0.start > 1 }.count
        #expect(gapsOverOneSecond == 2)
    }

    @Test func cutsQueriesToASliceOfTheCap() {
        #expect(Pacer(pacing: Pacing(maxRowsPerSec: 1000)).rowsPerQuery(batchRows: 5000) == 50)
        #expect(Pacer(pacing: Pacing(maxRowsPerSec: 1000)).rowsPerQuery(batchRows: 10) == 10)
        #expect(Pacer(pacing: Pacing(maxRowsPerSec: 3)).rowsPerQuery(batchRows: 5000) == 1)
        #expect(Pacer(pacing: Pacing()).rowsPerQuery(batchRows: 5000) == 5000)
    }

    @Test func unlimitedWhenNoCapIsGiven() {
        var pacer = Pacer(pacing: Pacing(maxRowsPerSec: 0))
        pacer.spend(1_000_000, now: 0.1)
        pacer.didFetch(endedAt: 0.1)
        #expect(pacer.delayBeforeRows(1_000_000, now: 0.1) == 0)
        #expect(pacer.delayBeforeFetch(now: 0.1) <= 0)
    }

    @Test func batchDelayPausesAfterEveryFetch() {
        var pacer = Pacer(pacing: Pacing(maxRowsPerSec: 100, batchDelayMs: 250))
        pacer.didFetch(endedAt: 0.01)
        #expect(abs(pacer.delayBeforeFetch(now: 0.01) - 0.25) < 1e-9)
        // The cap is a separate gate: 5 rows (one slice) may go at once, the next 5 after 0.05 s.
        #expect(pacer.delayBeforeRows(5, now: 0) == 0)
        pacer.spend(5, now: 0)
        #expect(abs(pacer.delayBeforeRows(5, now: 0) - 0.05) < 1e-9)
        let onlyDelay = Pacer(pacing: Pacing(batchDelayMs: 100))
        #expect(onlyDelay.delayBeforeFetch(now: 5) == 0)
    }

    @Test func batchSizeShrinksOnTimeoutsAndGrowsBack() {
        var sizer = BatchSizer(target: 1000)
        let first = sizer.shrink(), second = sizer.shrink()
        #expect(first && second)
        #expect(sizer.current == 250)
        for _ in 0..<BatchSizer.growAfter { sizer.succeeded() }
        #expect(sizer.current == 500)
        for _ in 0..<(BatchSizer.growAfter * 3) { sizer.succeeded() }
        #expect(sizer.current == 1000)
        var tiny = BatchSizer(target: 1)
        let shrunk = tiny.shrink()
        #expect(!shrunk)
    }

    @Test func retryDelaysGrowAndAreCapped() {
        let policy = RetryPolicy(maxAttempts: 5, baseDelay: 0.5, maxDelay: 4)
        #expect(policy.delay(attempt: 1, jitter: 0) == 0.5)
        #expect(policy.delay(attempt: 3, jitter: 0) == 2)
        #expect(policy.delay(attempt: 10, jitter: 0) == 4)
        #expect(policy.delay(attempt: 1, jitter: 0.2) == 0.6)
    }
}
