import Foundation
import Logging
import PostgresClient

/// A batch read from the source, with the checkpoint that is committed once it lands.
struct FetchedBatch: Sendable {
    let result: PostgresResult
    let checkpoint: Checkpoint?
}

/// The fetching side of the extract: its own thread walks the keyset and queues batches,
/// at most one ahead of the writer, so fetching and writing overlap on two cores.
final class FetchPipeline: @unchecked Sendable {
    struct Failure {
        let error: Error
        var isCancellation: Bool { (error as? PostgresError)?.sqlState == "57014" }
    }

    private let plan: ExtractPlan
    private let connection: PostgresConnection
    private let startPosition: KeysetPosition
    private let batchRows: Int
    private let stopFlag: StopFlag
    private let logger: Logger
    private let queue = Handoff<FetchedBatch>(capacity: 1)
    private let done = DispatchSemaphore(value: 0)
    private var started = false
    private(set) var failure: Failure?

    init(plan: ExtractPlan, connection: PostgresConnection, start: KeysetPosition, batchRows: Int,
         stopFlag: StopFlag, logger: Logger) {
        self.plan = plan
        self.connection = connection
        self.startPosition = start
        self.batchRows = batchRows
        self.stopFlag = stopFlag
        self.logger = logger
    }

    func start() {
        started = true
        let thread = Thread { [self] in
            defer { done.signal() }
            do {
                try fetchAll()
            } catch {
                failure = Failure(error: error)
            }
            queue.finish()
        }
        thread.name = "timbal-fetch"
        thread.start()
    }

    /// The next batch, or nil when the source is exhausted, the run stopped, or fetching failed.
    func next() -> FetchedBatch? { queue.take() }

    /// Stops the fetch thread and waits for it; `failure` is final afterwards.
    func shutdown() {
        guard started else { return }
        started = false
        queue.close()
        done.wait()
    }

    private func fetchAll() throws {
        var position = startPosition
        while !stopFlag.isRaised {
            let query = KeysetQuery.make(plan: plan, position: position, limit: batchRows)
            let result = try connection.query(query.sql, query.parameters, types: query.parameterTypes)
            let count = result.rowCount
            var after = position
            if count > 0 {
                let keys = position.pass == .nullCursor ? plan.tiebreaker : plan.valueKeys
                after.after = keys.map { result.string(count - 1, plan.resultIndex(of: $0.name)) ?? "" }
                guard queue.put(FetchedBatch(result: result, checkpoint: after.checkpoint(plan: plan))) else { return }
            }
            if count < batchRows {
                guard position.pass == .nullCursor else { return }
                position = KeysetPosition(pass: .values, after: nil)
            } else {
                position = after
            }
        }
    }
}
