import Logging
import PostgresClient

/// A batch read from the source, with the checkpoint that is committed once it lands.
struct FetchedBatch: Sendable {
    let batch: RowBatch
    let checkpoint: Checkpoint?
}

/// The fetching side of one pass (`ReadPass`): its own thread reads the pass's keyset in segments
/// (one cursor over one snapshot each, see `SegmentCursor`) and queues batches at most one ahead
/// of the writer, so fetching and writing overlap on two cores. Unpaced, the next batch's `FETCH`
/// is sent as soon as a batch is queued, so the server reads it while this thread waits for room.
/// A short segment ends after its seconds, before any long pause (batch delay, a writer that
/// cannot keep up), or when another session waits for a lock on the table; the next one starts
/// after the last key read. A held segment lasts the pass. Transient source failures are retried
/// (bounded, with backoff) from the last fetched position.
final class FetchPipeline: @unchecked Sendable {
    struct Failure {
        let error: Error
        var isCancellation: Bool { (error as? PostgresError)?.sqlState == "57014" }
    }

    /// A pause longer than this closes the segment first, so no transaction sits idle.
    static let idleLimit = 1.0
    /// Seconds between two looks at `pg_locks` for sessions waiting on the table.
    static let lockCheckInterval = 0.5

    private let plan: ExtractPlan
    private let link: SourceLink
    private let startPosition: KeysetPosition
    private var pacer: Pacer
    private var sizer: BatchSizer
    private let retry: RetryPolicy
    private let clock: MonotonicClock
    private let stopFlag: StopFlag
    private let logger: Logger
    private let maxSnapshot: Double
    /// A batch holds at most this many bytes of cells (plus the rows of one fetch beyond it).
    private let batchBytes: Int
    /// A row larger than this fails the job (the destination cannot take it).
    private let maxRowBytes: Int
    /// Average bytes per row of the last fetch; nil until the first fetch, which reads one row.
    private var averageRowBytes: Int?
    /// No index on the cursor: one held segment per pass (see `SegmentCursor`).
    private let held: Bool
    /// Unpaced jobs ask for the next batch before the writer has room for it (see `prefetch`).
    /// Turned off for the rest of the run once a read-ahead is dropped because the writer fell
    /// more than a second behind: each batch would otherwise be read twice.
    private var prefetches: Bool
    /// Rows asked for by a `FETCH` sent before the batch it starts was due: in flight, or
    /// `collected` (received, or failed, while a held segment waited long for the writer). A
    /// failure is thrown where the rows would have been used, like any fetch's.
    private var prefetched: Int?
    private var collected: Result<PostgresResult, Error>?
    /// Read-ahead needs a statement timeout of at least this (a FETCH whose rows the server cannot
    /// send while the writer is behind counts against it); with less, or paced, there is none.
    static let prefetchMinimumStatementTimeout = 2 * idleLimit
    private let queue = Handoff<FetchedBatch>(capacity: 1)
    private var thread: OSThread?
    private var writers: InFlightWriters?
    private var segmentOpenedAt: Double?
    private var lockCheckedAt = 0.0
    private(set) var failure: Failure?
    /// Retries taken by this run, for the job's result.
    private(set) var retries = 0
    /// Segments (snapshots, and so scans) this run opened.
    private(set) var segments = 0
    /// The table's storage as the last segment (or the resumed checkpoint) saw it.
    private var filenode: String?
    /// Times a segment found the table rewritten (a new `relfilenode`) since the one before.
    private(set) var rewrites = 0
    /// Rows come in the KB's key order (a pass by key whose key is the KB's).
    private let inKeyOrder: Bool
    /// Turns the position's checkpoint into the one recorded (a load by key records its own).
    private let recordAs: @Sendable (Checkpoint?) -> Checkpoint?
    /// The pass ends only when a segment opened after its last row was read finds no more (a load
    /// by key then copies rows inserted past its end while it ran, whatever their cursor value).
    private let confirmsEnd: Bool
    /// Rows the open segment has read.
    private var segmentRows = 0

    init(pass: ReadPass, context: ReadContext) {
        let plan = pass.plan, pacing = context.spec.pacing
        held = pass.segments == .held
        let statementTimeoutSeconds = Double(context.settings.statementTimeoutMs) / 1000
        // (A keyless snapshot cannot reopen its segment where it was, so it never reads ahead.)
        prefetches = pacing.maxRowsPerSec == 0 && pacing.batchDelayMs == 0 && !plan.isKeylessSnapshot
            && (statementTimeoutSeconds == 0 || statementTimeoutSeconds >= Self.prefetchMinimumStatementTimeout)
        batchBytes = max(1, context.settings.batchBytes)
        maxRowBytes = context.maxRowBytes
        self.plan = plan
        link = context.link
        startPosition = pass.start
        pacer = Pacer(pacing: pacing)
        sizer = BatchSizer(target: pacer.rowsPerQuery(batchRows: context.spec.batchRows))
        if case .short(let seconds) = pass.segments { maxSnapshot = seconds } else { maxSnapshot = .infinity }
        // Late commits are judged by the cursor, whichever order this pass reads in.
        writers = InFlightWriters(plan: pass.writersPlan ?? plan, carried: pass.rereadFrom)
        inKeyOrder = plan.cursor == nil && !plan.mergeKey.isEmpty && plan.tiebreaker.map(\.name) == plan.mergeKey
        recordAs = pass.record
        confirmsEnd = pass.confirmsEnd && !held
        filenode = context.table.filenode
        retry = context.retry
        clock = context.clock
        stopFlag = context.stopFlag
        logger = context.logger
    }

    /// Writing transactions whose start the role could not see (see `InFlightWriters`).
    var hiddenWriters: Int { writers?.hiddenWriters ?? 0 }

    /// The start of the oldest transaction open while this pass read (time cursors).
    var rereadFrom: String? { writers?.rereadFrom }

    /// Waits up to `seconds` for the next batch (or the end); false when none came in time.
    func waitForBatch(seconds: Double) -> Bool { queue.waitForItem(seconds: seconds) }

    func start() {
        thread = OSThread(name: "timbal-fetch") { [self] in
            do {
                try fetchAll()
            } catch {
                failure = Failure(error: error)
            }
            closeSegment()
            queue.finish()
        }
    }

    /// The next batch, or nil when the source is exhausted, the run stopped, or fetching failed.
    func next() -> FetchedBatch? { queue.take() }

    /// Stops the fetch thread and waits for it; `failure` is final afterwards.
    func shutdown() {
        guard let running = thread else { return }
        thread = nil
        queue.close()
        running.join()
    }

    private func fetchAll() throws {
        var position = startPosition
        var failures = 0
        while !stopFlag.isRaised {
            let wait = pacer.delayBeforeFetch(now: clock.now())
            if wait > Self.idleLimit && !held { closeSegment() }
            if wait > 0, pause(seconds: wait) { return }
            if !queue.waitForRoom(seconds: Self.idleLimit) {
                // A held segment holds no snapshot: it may wait as long as the writer needs, with
                // its read-ahead taken in (so no statement timeout can end it meanwhile).
                if held {
                    collectPrefetch()
                } else {
                    if prefetched != nil {
                        prefetches = false
                        logger.debug("the writer is more than a second behind: no more reading ahead in this run")
                    }
                    closeSegment()
                }
                while !queue.waitForRoom(seconds: keepAliveInterval) { link.keepAlive() }
            }
            let limit = sizer.current
            let startedAt = clock.now()
            let fetched: (batch: RowBatch, exhausted: Bool)
            do {
                if segmentOpenedAt == nil { try openSegment(at: position) }
                fetched = try fetchBatch(rows: limit)
                failures = 0
            } catch let error as PostgresError where error.isTransient && !stopFlag.isRaised && !plan.isKeylessSnapshot {
                // (A keyless snapshot has no position to retry from: it fails, and its next run starts over.)
                closeSegment()
                failures += 1
                try recover(from: error, attempt: failures)
                continue
            }
            let endedAt = clock.now()
            pacer.didFetch(endedAt: endedAt)
            ExtractMetrics.fetchLatency.recordNanoseconds(Int64((endedAt - startedAt) * 1e9))
            logger.trace("batch fetched", metadata: ["batch.rows": "\(fetched.batch.rowCount)", "batch.bytes": "\(fetched.batch.byteCount)"])
            sizer.succeeded()
            let count = fetched.batch.rowCount
            segmentRows += count
            var after = position
            if count > 0, let last = fetched.batch.parts.last(where: { $0.rowCount > 0 }) {
                let keys = position.pass == .nullCursor ? plan.tiebreaker : plan.valueKeys
                after = position.advanced(to: keys.map { last.string(last.rowCount - 1, plan.resultIndex(of: $0.name)) ?? "" })
                var checkpoint = after.checkpoint(plan: plan)
                checkpoint?.rereadFrom = writers?.rereadFrom
                checkpoint?.sourceFilenode = filenode
                checkpoint = recordAs(checkpoint)
                guard queue.put(FetchedBatch(batch: fetched.batch, checkpoint: checkpoint)) else { return }
            }
            if fetched.exhausted {
                let readInSegment = segmentRows
                closeSegment()
                if confirmsEnd && readInSegment > 0 {
                    position = after
                    continue
                }
                guard position.pass == .nullCursor else { return }
                position = KeysetPosition(pass: .values, after: nil)
            } else {
                position = after
                try endSegmentIfDue()
                if prefetches && segmentOpenedAt != nil && !stopFlag.isRaised { prefetch(limit: sizer.current) }
            }
        }
    }

    /// How often a session waiting for the writer runs a keep-alive statement: often enough for
    /// the server's `idle_session_timeout`, if it has one.
    private var keepAliveInterval: Double { link.idleSessionTimeout.map { max(0.05, $0 / 3) } ?? .infinity }

    /// Waits `seconds` (true when the run was stopped meanwhile), keeping the session alive.
    private func pause(seconds: Double) -> Bool {
        let interval = keepAliveInterval
        guard interval.isFinite else { return stopFlag.wait(seconds: seconds) }
        let until = monotonicSeconds() + seconds
        while true {
            let left = until - monotonicSeconds()
            if left <= 0 { return false }
            if stopFlag.wait(seconds: min(left, interval)) { return true }
            if monotonicSeconds() < until { link.keepAlive() }
        }
    }

    /// Takes in the read-ahead of a held segment that waits long for the writer (its rows, or
    /// the error that `fetchBatch` then throws).
    private func collectPrefetch() {
        guard let asked = prefetched, collected == nil else { return }
        collected = Result { try SegmentCursor.receiveFetch(link.connection, rows: asked) }
    }

    /// Rows the first fetch of a batch asks for: the batch's row limit, or fewer when the last
    /// fetch's rows say fewer fit in `batchBytes` (the job's first fetch reads one row).
    private func firstFetchRows(limit: Int) -> Int {
        min(limit, averageRowBytes.map { max(1, batchBytes / max(1, $0)) } ?? 1)
    }

    /// Sends the next batch's first `FETCH` now; `fetchBatch` collects it (or throws the
    /// failure to send, as a fetch that failed).
    private func prefetch(limit: Int) {
        let rows = firstFetchRows(limit: limit)
        prefetched = rows
        do {
            try SegmentCursor.sendFetch(link.connection, rows: rows)
        } catch {
            collected = .failure(error)
        }
    }

    /// Reads up to `rows` rows, and about `batchBytes` bytes, in as many fetches as that takes:
    /// each fetch asks for as many rows as the average row size says fit (the job's first fetch
    /// reads one row to learn it). `exhausted` says the segment's cursor has no more rows.
    private func fetchBatch(rows limit: Int) throws -> (batch: RowBatch, exhausted: Bool) {
        var parts: [PostgresResult] = []
        var rows = 0, bytes = 0
        while rows < limit && bytes < batchBytes {
            let fits = averageRowBytes.map { max(1, (batchBytes - bytes) / max(1, $0)) } ?? 1
            var want = min(limit - rows, fits)
            let result: PostgresResult
            if let asked = prefetched {
                // Sent by `prefetch` with the rows this first fetch would ask for: nothing that
                // sizes a fetch changes between the two (a retry closes the segment first).
                prefetched = nil
                want = asked
                if let early = collected {
                    collected = nil
                    result = try early.get()
                } else {
                    result = try SegmentCursor.receiveFetch(link.connection, rows: asked)
                }
            } else {
                result = try SegmentCursor.fetch(link.connection, rows: want)
            }
            var resultBytes = 0
            for row in 0..<result.rowCount {
                let size = result.rowBytes(row)
                if size > maxRowBytes { throw ExtractError.rowTooLarge(key: rowKey(result, row), bytes: size, limit: maxRowBytes) }
                resultBytes += size
            }
            if result.rowCount > 0 { averageRowBytes = max(1, resultBytes / result.rowCount) }
            parts.append(result)
            rows += result.rowCount
            bytes += resultBytes
            if result.rowCount < want { return (RowBatch(parts: parts, byteCount: bytes, inKeyOrder: inKeyOrder), true) }
        }
        return (RowBatch(parts: parts, byteCount: bytes, inKeyOrder: inKeyOrder), false)
    }

    /// `id=5, region=eu`: the row's key, to name it in an error.
    private func rowKey(_ result: PostgresResult, _ row: Int) -> String {
        let keys = plan.tiebreaker.isEmpty ? plan.valueKeys : plan.tiebreaker
        return keys.map { "\($0.name)=\(result.string(row, plan.resultIndex(of: $0.name)) ?? "NULL")" }.joined(separator: ", ")
    }

    private func openSegment(at position: KeysetPosition) throws {
        try writers?.sample(link.connection)
        let seen = try SegmentCursor.open(link.connection, plan: plan, position: position, held: held)
        if let seen, let known = filenode, seen != known {
            rewrites += 1
            logger.warning("the source table was rewritten while the job ran (TRUNCATE, VACUUM FULL, CLUSTER or a rewriting ALTER TABLE); rows whose keys were reused overwrite KB rows with the same key",
                           metadata: ["source.table": "\(plan.table.qualifiedName)"])
        }
        filenode = seen ?? filenode
        segmentOpenedAt = clock.now()
        segmentRows = 0
        segments += 1
        ExtractMetrics.segments.increment()
    }

    private func closeSegment() {
        guard segmentOpenedAt != nil else { return }
        segmentOpenedAt = nil
        if let asked = prefetched {
            // Rows read ahead and not handed on: dropped; the next segment reads them again.
            prefetched = nil
            if collected == nil { _ = try? SegmentCursor.receiveFetch(link.connection, rows: asked) }
            collected = nil
        }
        SegmentCursor.close(link.connection, held: held)
    }

    /// Ends the segment when its snapshot is old enough or another session waits for the table.
    private func endSegmentIfDue() throws {
        guard let openedAt = segmentOpenedAt, !held else { return }
        let now = clock.now()
        if now - openedAt >= maxSnapshot {
            closeSegment()
            return
        }
        guard now - lockCheckedAt >= Self.lockCheckInterval, let oid = plan.table.oid else { return }
        lockCheckedAt = now
        if try SegmentCursor.othersWaitForLock(link.connection, tableOID: oid) {
            logger.info("another session waits for a lock on the source table; ending the segment early",
                        metadata: ["source.table": "\(plan.table.qualifiedName)"])
            closeSegment()
        }
    }

    /// Waits out a transient failure and reopens the connection if it broke; throws once retries run out.
    private func recover(from error: PostgresError, attempt: Int) throws {
        guard attempt <= retry.maxAttempts else {
            throw ExtractError.retriesExhausted(attempts: attempt - 1, last: error)
        }
        retries += 1
        ExtractMetrics.retries.increment()
        if error.isStatementTimeout {
            let before = sizer.current
            if sizer.shrink() {
                logger.warning("batch hit the statement timeout; reading smaller batches", metadata: [
                    "batch.rows.before": "\(before)", "batch.rows": "\(sizer.current)"])
            }
        }
        let delay = retry.delay(attempt: attempt)
        logger.warning("source read failed; retrying from the last checkpoint", metadata: [
            "attempt": "\(attempt)", "max_attempts": "\(retry.maxAttempts)",
            "retry.delay_s": "\(twoDecimals(delay))", "error": "\(error)"])
        if stopFlag.wait(seconds: delay) { return }
        try link.reconnectIfBroken(after: error)
    }
}

/// Why an extract gave up.
public enum ExtractError: Error, CustomStringConvertible {
    case retriesExhausted(attempts: Int, last: Error)
    case rowTooLarge(key: String, bytes: Int, limit: Int)

    public var description: String {
        switch self {
        case .retriesExhausted(let attempts, let last):
            return "source: gave up after \(attempts) retries; last error: \(last)"
        case .rowTooLarge(let key, let bytes, let limit):
            return "source: the row (\(key)) holds \(bytes) bytes, more than the \(limit) this destination takes in one row; leave the large column out with source.columns, or use placement local"
        }
    }
}
