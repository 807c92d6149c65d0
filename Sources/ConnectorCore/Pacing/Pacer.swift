/// Shapes the rate of one job. Pure arithmetic on times given to it (seconds on a monotonic
/// clock), so tests drive it with any clock they like.
///
/// `max_rows_per_sec` is a bounded token bucket, not a schedule: tokens accrue at the cap and the
/// bucket holds at most one slice (1/20 of a second's worth of rows). Time spent stalled (a lock,
/// a hung server, a slow disk) earns nothing beyond that slice, so the job never catches up in a
/// burst: any one-second window admits at most the cap plus one slice. Rows are spent when they
/// are admitted, so the time a batch takes to land earns tokens; landings lag admissions by that
/// time, so a window of landed rows holds the cap plus one slice when commits take steady time
/// (bench/pacing.sh: 1.05x), and at worst, a commit taking a whole slice's time, plus two (1.10x). Queries are cut to one
/// slice under a cap. `batch_delay_ms` adds a pause after every fetch.
public struct Pacer: Sendable {
    /// Fraction of a second's worth of rows one query may read under a rate cap.
    public static let slicesPerSecond = 20

    public let maxRowsPerSec: Int
    public let batchDelay: Double
    /// Tokens (rows) available at `refilledAt`; may go negative after a batch larger than the bucket.
    private var tokens: Double
    private var refilledAt: Double?
    private var lastFetchEndedAt: Double?

    public init(pacing: Pacing) {
        maxRowsPerSec = pacing.maxRowsPerSec
        batchDelay = Double(pacing.batchDelayMs) / 1000
        tokens = Double(Self.slice(maxRowsPerSec))
    }

    static func slice(_ cap: Int) -> Int { max(1, (cap + slicesPerSecond - 1) / slicesPerSecond) }

    /// The bucket's capacity in rows (one slice).
    public var burst: Double { Double(Self.slice(maxRowsPerSec)) }

    /// Rows one query may read: the job's `batch_rows`, cut down to one slice under a rate cap.
    public func rowsPerQuery(batchRows: Int) -> Int {
        guard maxRowsPerSec > 0 else { return batchRows }
        return max(1, min(batchRows, Self.slice(maxRowsPerSec)))
    }

    /// Seconds to wait at `now` before `rows` rows may go (0 = go). Rate cap only.
    public func delayBeforeRows(_ rows: Int, now: Double) -> Double {
        guard maxRowsPerSec > 0 else { return 0 }
        let available = tokensAt(now)
        let needed = min(Double(rows), burst)
        return available >= needed ? 0 : (needed - available) / Double(maxRowsPerSec)
    }

    /// Records that `rows` rows went at `now`: call when they are admitted, before they are written.
    public mutating func spend(_ rows: Int, now: Double) {
        guard maxRowsPerSec > 0 else { return }
        tokens = tokensAt(now) - Double(rows)
        refilledAt = now
    }

    /// Seconds to wait at `now` before the next fetch may start: the batch delay only.
    public func delayBeforeFetch(now: Double) -> Double {
        guard let last = lastFetchEndedAt, batchDelay > 0 else { return 0 }
        return max(0, last + batchDelay - now)
    }

    /// Records a fetch that ended at `endedAt`, for the batch delay.
    public mutating func didFetch(endedAt: Double) {
        lastFetchEndedAt = endedAt
    }

    private func tokensAt(_ now: Double) -> Double {
        guard let refilledAt else { return tokens }
        return min(burst, tokens + max(0, now - refilledAt) * Double(maxRowsPerSec))
    }
}
