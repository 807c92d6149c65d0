import Foundation

/// A bounded queue between two threads: `put` waits while it is full, `take` while it is empty.
/// Closing it wakes both sides; what was queued can still be taken.
final class Handoff<Element>: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [Element] = []
    private var closed = false
    private let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    /// False when the queue was closed (the consumer has gone away).
    @discardableResult
    func put(_ item: Element) -> Bool {
        condition.lock(); defer { condition.unlock() }
        while items.count >= capacity && !closed { condition.wait() }
        if closed { return false }
        items.append(item)
        condition.broadcast()
        return true
    }

    /// Nil once the queue is closed and drained.
    func take() -> Element? {
        condition.lock(); defer { condition.unlock() }
        while items.isEmpty && !closed { condition.wait() }
        if items.isEmpty { return nil }
        let item = items.removeFirst()
        condition.broadcast()
        return item
    }

    func close() {
        condition.lock(); defer { condition.unlock() }
        closed = true
        items.removeAll()
        condition.broadcast()
    }

    /// Close for the producer: the consumer drains what is queued, then sees the end.
    func finish() {
        condition.lock(); defer { condition.unlock() }
        closed = true
        condition.broadcast()
    }
}

/// A flag set once from any thread; waits on it end early when it is raised.
final class StopFlag: @unchecked Sendable {
    private let condition = NSCondition()
    private var raised = false

    var isRaised: Bool { condition.lock(); defer { condition.unlock() }; return raised }

    func raise() {
        condition.lock()
        raised = true
        condition.broadcast()
        condition.unlock()
    }

    /// Sleeps up to `seconds`; true if the flag was raised meanwhile.
    func wait(seconds: Double) -> Bool {
        condition.lock(); defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: seconds)
        while !raised {
            if !condition.wait(until: deadline) { break }
        }
        return raised
    }
}
