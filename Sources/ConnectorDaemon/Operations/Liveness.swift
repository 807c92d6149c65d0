import ConnectorCore

/// Which of the daemon's loops are still turning: each long-running part beats under its name
/// (the channel's dial loop and heartbeat, the job runner's probe), and the systemd watchdog is
/// fed only while every part has beaten recently, so a stuck part gets the daemon restarted.
public final class Liveness: @unchecked Sendable {
    private let lock = Condition()
    private var lastBeat: [String: Double] = [:]
    private let clock: @Sendable () -> Double

    public init(clock: @escaping @Sendable () -> Double = monotonicSeconds) {
        self.clock = clock
    }

    public func beat(_ part: String) {
        let now = clock()
        lock.withLock { lastBeat[part] = now }
    }

    /// Parts that have not beaten within `seconds` (a part that never beat is not listed).
    public func stale(after seconds: Double) -> [String] {
        let now = clock()
        return lock.withLock { lastBeat.filter { now - $0.value > seconds }.map(\.key).sorted() }
    }
}
