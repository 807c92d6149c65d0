import ConnectorCore
import Synchronization

/// What the daemon has to say on the channel: job reports (coalesced: only a job's latest state is
/// sent) and frames (hosted batches, requests) in order. Filled from any thread; drained by the
/// channel's writer while a channel is up. Survives reconnects: the daemon refills it from the
/// state DB and the hosted sinks' unacknowledged batches when a new channel opens.
public final class Outbox: Sendable {
    public enum Item: Sendable {
        case report(jobID: String)
        case frame(String)
        /// A large message (a hosted batch) sent as a binary frame: no UTF-8 round trip.
        case binary([UInt8])
    }

    private struct Queue {
        var dirtyJobs: [String] = []
        var frames: [Item] = []
        var doorbell: AsyncStream<Void>.Continuation?
    }

    private let queue = Mutex(Queue())

    public init() {}

    /// The job's state changed; its latest report will be sent.
    public func reportChanged(jobID: String) {
        queue.withLock { queue in
            if !queue.dirtyJobs.contains(jobID) { queue.dirtyJobs.append(jobID) }
        }
        ring()
    }

    /// Queues a frame to send as is.
    public func send(_ frame: String) {
        queue.withLock { $0.frames.append(.frame(frame)) }
        ring()
    }

    /// Queues a message to send as a binary frame.
    public func send(bytes: [UInt8]) {
        queue.withLock { $0.frames.append(.binary(bytes)) }
        ring()
    }

    /// Drops queued frames (a channel went down; their owners requeue what still matters).
    public func dropFrames() {
        queue.withLock { $0.frames.removeAll() }
    }

    /// Takes everything queued: reports first (they are small and tell the plane where jobs are).
    public func drain() -> [Item] {
        queue.withLock { queue in
            let items = queue.dirtyJobs.map { Item.report(jobID: $0) } + queue.frames
            queue.dirtyJobs.removeAll()
            queue.frames.removeAll()
            return items
        }
    }

    /// A stream that yields whenever something is queued; one per channel session.
    public func subscribe() -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        queue.withLock { queue in
            queue.doorbell?.finish()
            queue.doorbell = continuation
        }
        continuation.yield()
        return stream
    }

    private func ring() {
        queue.withLock { $0.doorbell }?.yield()
    }
}
