/// Shapes the read rate of one job. Pure arithmetic on times given to it (seconds on a monotonic
/// clock), so tests drive it with any clock they like.
///
/// `max_rows_per_sec` is a schedule, not a burst allowance: the fetch that starts after `n` rows
/// may start no earlier than `n / rate` seconds after the first. Queries are cut to 1/20 of a
/// second's worth of rows, so any one-second window holds at most the cap plus one small batch.
/// `batch_delay_ms` adds a pause after every fetch, on top of the schedule.
public struct Pacer: Sendable {
    /// Fraction of a second's worth of rows one query may read under a rate cap.
    public static let slicesPerSecond = 20

    public let maxRowsPerSec: Int
    public let batchDelay: Double
    private var firstFetchAt: Double?
    private var lastFetchEndedAt: Double?
    private var rowsFetched: Int64 = 0

    public init(pacing: Pacing) {
        maxRowsPerSec = pacing.maxRowsPerSec
        batchDelay = Double(pacing.batchDelayMs) / 1000
    }

    /// Rows one query may read: the job's `batch_rows`, cut down under a rate cap.
    public func rowsPerQuery(batchRows: Int) -> Int {
        guard maxRowsPerSec > 0 else { return batchRows }
        let slice = (maxRowsPerSec + Self.slicesPerSecond - 1) / Self.slicesPerSecond
        return max(1, min(batchRows, slice))
    }

    /// Seconds to wait at `now` before the next fetch may start (0 = go).
    public func delayBeforeFetch(now: Double) -> Double {
        var readyAt = now
        if let first = firstFetchAt, maxRowsPerSec > 0 {
            readyAt = max(readyAt, first + Double(rowsFetched) / Double(maxRowsPerSec))
        }
        if let last = lastFetchEndedAt, batchDelay > 0 {
            readyAt = max(readyAt, last + batchDelay)
        }
        return readyAt - now
    }

    /// Records a fetch that started at `startedAt`, ended at `endedAt` and read `rows` rows.
    public mutating func didFetch(rows: Int, startedAt: Double, endedAt: Double) {
        if firstFetchAt == nil { firstFetchAt = startedAt }
        rowsFetched += Int64(rows)
        lastFetchEndedAt = endedAt
    }
}
