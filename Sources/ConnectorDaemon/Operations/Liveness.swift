import ConnectorCore
import Synchronization

/// Which of the daemon's loops are still turning: each long-running part beats under its name
/// (the channel's dial loop and heartbeat, the job runner's probe), and the systemd watchdog is
/// fed only while every part has beaten recently, so a stuck part gets the daemon restarted.
public final class Liveness: Sendable {
    private let lastBeat = Mutex<[String: Double]>([:])
    private let clock: @Sendable () -> Double

    public init(clock: @escaping @Sendable () -> Double = monotonicSeconds) {
        self.clock = clock
    }

    public func beat(_ part: String) {
        let now = clock()
        lastBeat.withLock { $0[part] = now }
    }

    /// Parts that have not beaten within `seconds` (a part that never beat is not listed).
    public func stale(after seconds: Double) -> [String] {
        let now = clock()
        return lastBeat.withLock { beats in beats.filter { now - $0.value > seconds }.map(\.key).sorted() }
    }
}
