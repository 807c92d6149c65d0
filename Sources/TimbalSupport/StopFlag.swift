/// A flag raised once from any thread; waits on it end early when it is raised.
public final class StopFlag: @unchecked Sendable {
    private let condition = Condition()
    private var raised = false

    public init() {}

    public var isRaised: Bool { condition.withLock { raised } }

    public func raise() {
        condition.withLock {
            raised = true
            condition.broadcast()
        }
    }

    /// Sleeps up to `seconds`; true if the flag was raised meanwhile.
    public func wait(seconds: Double) -> Bool {
        let deadline = monotonicSeconds() + seconds
        return condition.withLock {
            while !raised {
                if !condition.wait(until: deadline) { break }
            }
            return raised
        }
    }
}
