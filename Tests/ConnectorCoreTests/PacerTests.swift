import Testing
@testable import ConnectorCore

@Suite("Pacing")
struct PacerTests {
    /// Drives a pacer on a simulated clock: each fetch takes `fetchTime` seconds and reads a full batch.
    func simulate(pacing: Pacing, batchRows: Int, seconds: Double, fetchTime: Double = 0.001) -> [(start: Double, rows: Int)] {
        var pacer = Pacer(pacing: pacing)
        var now = 0.0
        var fetches: [(start: Double, rows: Int)] = []
        let rows = pacer.rowsPerQuery(batchRows: batchRows)
        while now < seconds {
            now += max(0, pacer.delayBeforeFetch(now: now))
            guard now < seconds else { break }
            fetches.append((now, rows))
            pacer.didFetch(rows: rows, startedAt: now, endedAt: now + fetchTime)
            now += fetchTime
        }
        return fetches
    }

    func largestWindow(_ fetches: [(start: Double, rows: Int)]) -> Int {
        var best = 0
        for (index, fetch) in fetches.enumerated() {
            let inWindow = fetches[index...].prefix { $0.start < fetch.start + 1 }.reduce(0) { $0 + $1.rows }
            best = max(best, inWindow)
        }
        return best
    }

    @Test(arguments: [100, 1_000, 10_000, 50_000])
    func holdsTheCapSustainedAndInEveryWindow(cap: Int) {
        let fetches = simulate(pacing: Pacing(maxRowsPerSec: cap), batchRows: 5000, seconds: 30)
        let total = fetches.reduce(0) { $0 + $1.rows }
        let rate = Double(total) / 30
        #expect(abs(rate / Double(cap) - 1) <= 0.03)
        #expect(Double(largestWindow(fetches)) <= 1.1 * Double(cap))
    }

    @Test func cutsQueriesToASliceOfTheCap() {
        #expect(Pacer(pacing: Pacing(maxRowsPerSec: 1000)).rowsPerQuery(batchRows: 5000) == 50)
        #expect(Pacer(pacing: Pacing(maxRowsPerSec: 1000)).rowsPerQuery(batchRows: 10) == 10)
        #expect(Pacer(pacing: Pacing(maxRowsPerSec: 3)).rowsPerQuery(batchRows: 5000) == 1)
        #expect(Pacer(pacing: Pacing()).rowsPerQuery(batchRows: 5000) == 5000)
    }

    @Test func unlimitedWhenNoCapIsGiven() {
        var pacer = Pacer(pacing: Pacing(maxRowsPerSec: 0))
        pacer.didFetch(rows: 1_000_000, startedAt: 0, endedAt: 0.1)
        #expect(pacer.delayBeforeFetch(now: 0.1) <= 0)
    }

    @Test func batchDelayPausesAfterEveryFetchOnTopOfTheCap() {
        var pacer = Pacer(pacing: Pacing(maxRowsPerSec: 100, batchDelayMs: 250))
        pacer.didFetch(rows: 5, startedAt: 0, endedAt: 0.01)
        // The cap alone would allow the next 5 rows at 0.05 s; the delay holds them to 0.26 s.
        #expect(abs(pacer.delayBeforeFetch(now: 0.01) - 0.25) < 1e-9)
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
