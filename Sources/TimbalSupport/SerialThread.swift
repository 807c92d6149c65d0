/// One OS thread that runs submitted work in order: blocking calls (SQLite, a PQcancel round
/// trip) made on behalf of async code happen here, never on Swift's cooperative pool.
public final class SerialThread: @unchecked Sendable {
    private let condition = Condition()
    private var queue: [() -> Void] = []

    public init(name: String) {
        _ = OSThread(name: name, detached: true) { [self] in
            while true {
                let work: () -> Void = condition.withLock {
                    while queue.isEmpty { condition.wait() }
                    return queue.removeFirst()
                }
                work()
            }
        }
    }

    /// Queues `work`; it runs after everything submitted before it.
    public func submit(_ work: @escaping @Sendable () -> Void) {
        condition.withLock {
            queue.append(work)
            condition.broadcast()
        }
    }

    /// Runs `work` on the thread and returns its result to the awaiting task.
    public func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            submit { continuation.resume(with: Result { try work() }) }
        }
    }
}
