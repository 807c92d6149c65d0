import Logging
import PostgresClient

/// A batch read from the source, with the checkpoint that is committed once it lands.
struct FetchedBatch: Sendable {
    let result: PostgresResult
    let checkpoint: Checkpoint?
}

/// The fetching side of the extract: its own thread walks the keyset under the job's pacing and
/// queues batches at most one ahead of the writer, so fetching and writing overlap on two cores.
/// Transient source failures are retried (bounded, with backoff) from the last fetched position.
final class FetchPipeline: @unchecked Sendable {
    struct Failure {
        let error: Error
        var isCancellation: Bool { (error as? PostgresError)?.sqlState == "57014" }
    }

    private let plan: ExtractPlan
    private let link: SourceLink
    private let startPosition: KeysetPosition
    private var pacer: Pacer
    private var sizer: BatchSizer
    private let retry: RetryPolicy
    private let clock: MonotonicClock
    private let stopFlag: StopFlag
    private let logger: Logger
    private let queue = Handoff<FetchedBatch>(capacity: 1)
    private var thread: OSThread?
    private(set) var failure: Failure?
    /// Retries taken by this run, for the job's result.
    private(set) var retries = 0

    init(plan: ExtractPlan, link: SourceLink, start: KeysetPosition, batchRows: Int, pacing: Pacing,
         retry: RetryPolicy, clock: MonotonicClock, stopFlag: StopFlag, logger: Logger) {
        self.plan = plan
        self.link = link
        self.startPosition = start
        let pacer = Pacer(pacing: pacing)
        self.pacer = pacer
        self.sizer = BatchSizer(target: pacer.rowsPerQuery(batchRows: batchRows))
        self.retry = retry
        self.clock = clock
        self.stopFlag = stopFlag
        self.logger = logger
    }

    func start() {
        thread = OSThread(name: "timbal-fetch") { [self] in
            do {
                try fetchAll()
            } catch {
                failure = Failure(error: error)
            }
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
            if wait > 0, stopFlag.wait(seconds: wait) { return }
            let limit = sizer.current
            let query = KeysetQuery.make(plan: plan, position: position, limit: limit)
            let startedAt = clock.now()
            let result: PostgresResult
            do {
                result = try link.connection.query(query.sql, query.parameters, types: query.parameterTypes)
                failures = 0
            } catch let error as PostgresError where error.isTransient && !stopFlag.isRaised {
                failures += 1
                try recover(from: error, attempt: failures)
                continue
            }
            let endedAt = clock.now()
            pacer.didFetch(rows: result.rowCount, startedAt: startedAt, endedAt: endedAt)
            ExtractMetrics.fetchLatency.recordNanoseconds(Int64((endedAt - startedAt) * 1e9))
            logger.trace("batch fetched", metadata: ["batch.rows": "\(result.rowCount)"])
            sizer.succeeded()
            let count = result.rowCount
            var after = position
            if count > 0 {
                let keys = position.pass == .nullCursor ? plan.tiebreaker : plan.valueKeys
                after.after = keys.map { result.string(count - 1, plan.resultIndex(of: $0.name)) ?? "" }
                guard queue.put(FetchedBatch(result: result, checkpoint: after.checkpoint(plan: plan))) else { return }
            }
            if count < limit {
                guard position.pass == .nullCursor else { return }
                position = KeysetPosition(pass: .values, after: nil)
            } else {
                position = after
            }
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
        if link.connection.isBroken || error.kind == .connect || error.kind == .connectionLost {
            do {
                try link.reconnect()
            } catch let reconnectError as PostgresError where reconnectError.isTransient {
                // The next query fails fast on the broken connection and counts as the next attempt.
                logger.warning("reconnect failed", metadata: ["error": "\(reconnectError)"])
            }
        }
    }
}

/// Why an extract gave up.
public enum ExtractError: Error, CustomStringConvertible {
    case retriesExhausted(attempts: Int, last: Error)

    public var description: String {
        switch self {
        case .retriesExhausted(let attempts, let last):
            return "source: gave up after \(attempts) retries; last error: \(last)"
        }
    }
}
