import ChannelProtocol
import ConnectorCore

/// `deletes` for a hosted job: each reconciled slice goes to the plane as a rowless batch with a
/// `reconcile` member, in the batch sequence (acknowledged, resent after a reconnect, applied once
/// per seq), and the plane applies it with the same `KBDeletes` rules as a local KB. It carries the
/// last checkpoint, so the plane's record of where the job stands does not move back.
extension HostedSink: DeleteSink {
    /// A slice's keys are split so a frame stays far below the channel's message limit.
    static let reconcileFrameBytes = 8 << 20

    public func prepareDeletes(_ choice: DeletesChoice, keys: ReconcileKeys) throws {
        lock.withLock {
            deletes = choice
            deleteKeyKinds = keys.kinds
        }
    }

    public func applyDeletes(range: KBKeyRange, present: [KBKey]) throws {
        let (choice, kinds) = lock.withLock { (deletes, deleteKeyKinds) }
        let text = { (key: KBKey) in key.values.map(\.text) }
        var after = range.after
        var start = 0
        repeat {
            // Up to the frame budget (at least one key), then the rest in the next frame.
            var end = start, bytes = 0
            while end < present.count, end == start || bytes < Self.reconcileFrameBytes {
                bytes += present[end].values.reduce(16) { $0 + $1.text.utf8.count * 2 + 4 }
                end += 1
            }
            let through = end < present.count ? present[end - 1] : range.through
            let reconcile = HostedReconcile(deletes: choice.rawValue, keyKinds: kinds.map(\.rawValue), after: after.map(text),
                                            through: through.map(text), keys: present[start..<end].map(text))
            try Array("[]".utf8).withUnsafeBufferPointer {
                try send(rowsJSON: $0, rowCount: 0, checkpoint: committedOrLast(), final: false, reconcile: reconcile)
            }
            after = through
            start = end
        } while start < present.count
    }

    /// The plane counts what it removed (the job view's `rows_deleted`).
    public var rowsDeleted: Int64? { nil }
}
