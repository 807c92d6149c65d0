/// Bounded retries with exponential backoff and jitter, for transient source failures.
public struct RetryPolicy: Sendable {
    public var maxAttempts: Int
    public var baseDelay: Double
    public var maxDelay: Double

    public init(maxAttempts: Int = 8, baseDelay: Double = 0.5, maxDelay: Double = 30) {
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// Delay before retry number `attempt` (1-based): base * 2^(attempt-1), capped, with +-20% jitter.
    public func delay(attempt: Int, jitter: Double = Double.random(in: -0.2...0.2)) -> Double {
        let exponential = baseDelay * Double(1 << min(attempt - 1, 20))
        return min(maxDelay, exponential) * (1 + jitter)
    }
}
