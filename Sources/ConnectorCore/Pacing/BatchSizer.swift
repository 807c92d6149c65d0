/// The batch size of a job: the target, halved after a statement timeout, and grown back
/// (doubling) after a run of good batches, so a slow server gets smaller reads for a while.
public struct BatchSizer: Sendable {
    public let target: Int
    public private(set) var current: Int
    private var goodBatches = 0
    /// Good batches in a row before the size doubles again.
    public static let growAfter = 4

    public init(target: Int) {
        self.target = max(1, target)
        current = self.target
    }

    /// After a statement timeout; false when the size is already 1 (nothing left to shrink).
    public mutating func shrink() -> Bool {
        goodBatches = 0
        guard current > 1 else { return false }
        current = max(1, current / 2)
        return true
    }

    public mutating func succeeded() {
        guard current < target else { return }
        goodBatches += 1
        if goodBatches >= Self.growAfter {
            goodBatches = 0
            current = min(target, current * 2)
        }
    }
}
