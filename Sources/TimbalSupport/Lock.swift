import Synchronization

/// A plain lock (the stdlib's `Mutex`, no condition) for state a class guards itself, such as a
/// database handle. Where threads also wait for each other, `Condition` is the tool.
public final class Lock: Sendable {
    private let mutex = Mutex<Void>(())

    public init() {}

    public func withLock<R>(_ body: () throws -> R) rethrows -> R {
        try mutex.withLock { _ in try body() }
    }
}
