/// A bounded queue between two threads: `put` waits while it is full, `take` while it is empty.
/// Closing it wakes both sides. Elements cross threads, so they must be `Sendable`; the queue's
/// own state is guarded by `condition` (hence the checked-by-hand `@unchecked`).
final class Handoff<Element: Sendable>: @unchecked Sendable {
    private let condition = Condition()
    private var items: [Element] = []
    private var closed = false
    private let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    /// False when the queue was closed (the consumer has gone away).
    @discardableResult
    func put(_ item: Element) -> Bool {
        condition.withLock {
            while items.count >= capacity && !closed { condition.wait() }
            if closed { return false }
            items.append(item)
            condition.broadcast()
            return true
        }
    }

    /// Waits until there is room (or the queue is closed); false when `seconds` passed first.
    func waitForRoom(seconds: Double) -> Bool {
        let deadline = seconds.isFinite ? monotonicSeconds() + seconds : nil
        return condition.withLock {
            while items.count >= capacity && !closed {
                if let deadline {
                    if !condition.wait(until: deadline) && items.count >= capacity && !closed { return false }
                } else {
                    condition.wait()
                }
            }
            return true
        }
    }

    /// Waits until an element is there (or the queue is closed); false when `seconds` passed first.
    func waitForItem(seconds: Double) -> Bool {
        let deadline = monotonicSeconds() + seconds
        return condition.withLock {
            while items.isEmpty && !closed {
                if !condition.wait(until: deadline) && items.isEmpty && !closed { return false }
            }
            return true
        }
    }

    /// Nil once the queue is closed and drained.
    func take() -> Element? {
        condition.withLock {
            while items.isEmpty && !closed { condition.wait() }
            if items.isEmpty { return nil }
            let item = items.removeFirst()
            condition.broadcast()
            return item
        }
    }

    /// Close for the consumer: drops what is queued and wakes a waiting producer.
    func close() {
        condition.withLock {
            closed = true
            items.removeAll()
            condition.broadcast()
        }
    }

    /// Close for the producer: the consumer drains what is queued, then sees the end.
    func finish() {
        condition.withLock {
            closed = true
            condition.broadcast()
        }
    }
}
