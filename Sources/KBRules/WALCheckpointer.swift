import SQLiteStore
import TimbalSupport

/// Moves SQLite's WAL checkpoints off the writer's thread: the writer's connection stops
/// checkpointing on commit (`wal_autocheckpoint = 0`), and this thread, on a connection of its
/// own, copies committed pages from the WAL into the database file every `interval` seconds
/// (PASSIVE: it never blocks the writer or readers). Crash safety is SQLite's own: a checkpoint
/// only copies pages already committed in the WAL.
public final class WALCheckpointer: @unchecked Sendable {
    private let stopFlag = StopFlag()
    private var thread: OSThread?

    public init(path: String, writer: SQLiteDatabase, interval: Double = 0.2) throws {
        try writer.execute("PRAGMA wal_autocheckpoint = 0")
        let stopFlag = self.stopFlag
        thread = OSThread(name: "timbal-checkpoint") {
            // Its own connection, opened and used on this thread only.
            guard let checkpointer = try? SQLiteDatabase(path: path) else { return }
            // It copies pages from the WAL to the file: it needs no page cache of its own.
            _ = try? checkpointer.execute("PRAGMA cache_size = 16")
            while !stopFlag.wait(seconds: interval) {
                _ = try? checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")
            }
            _ = try? checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")
            withExtendedLifetime(checkpointer) {}
        }
    }

    /// Stops the thread after one last checkpoint; the writer checkpoints on commit again.
    public func stop(writer: SQLiteDatabase) {
        guard let running = thread else { return }
        thread = nil
        stopFlag.raise()
        running.join()
        _ = try? writer.execute("PRAGMA wal_autocheckpoint = 1000")
    }

    deinit {
        stopFlag.raise()
        thread?.join()
    }
}
