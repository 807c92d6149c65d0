/// Runs blocking work (libpq, SQLite, waiting for jobs) on its own thread, off Swift's cooperative pool.
public enum BlockingThread {
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            _ = OSThread(name: "timbal-blocking", detached: true) {
                do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
            }
        }
    }
}
