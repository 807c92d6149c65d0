/// Seconds on a clock that never goes backwards; injected so pacing can be tested without sleeping.
public protocol MonotonicClock: Sendable {
    func now() -> Double
}

/// The system's monotonic clock.
public struct SystemClock: MonotonicClock {
    public init() {}
    public func now() -> Double { monotonicSeconds() }
}
