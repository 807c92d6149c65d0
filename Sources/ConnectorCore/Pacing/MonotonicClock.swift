import Foundation

/// Seconds on a clock that never goes backwards; injected so pacing can be tested without sleeping.
public protocol MonotonicClock: Sendable {
    func now() -> Double
}

/// The system's monotonic clock.
public struct SystemClock: MonotonicClock {
    public init() {}
    public func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}
