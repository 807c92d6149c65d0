#if canImport(Glibc)
import Glibc
#endif
import SQLiteStore

extension KBFile {
    /// Above this many bytes of WAL after a commit, the writer checkpoints it fully itself before
    /// writing on (the background checkpointer is PASSIVE and never catches up with a writer whose
    /// every commit rewrites pages all over the table: the WAL then grows without end).
    public static let walRestartBytes: Int64 = 32 << 20

    /// Past this many bytes of WAL, a flush of staged rows commits what it has written and goes
    /// on in a new transaction (`KBRowWriter`): with the restart threshold above and the main
    /// cache's pages still to come, the WAL file stays under 256 MiB.
    public static let walFlushBytes: Int64 = 192 << 20

    /// How long the restart waits for readers of older pages.
    static let restartWaitMs = 200

    /// The size a restarted WAL file is cut back to.
    static let walKeptBytes: Int64 = 32 << 20

    /// Bytes in this KB's WAL file (0 when there is none).
    public var walBytes: Int64 {
        var info = stat()
        return stat(database.path + "-wal", &info) == 0 ? Int64(info.st_size) : 0
    }

    /// Keeps the WAL bounded: called after each commit. A RESTART checkpoint copies every
    /// committed page into the database file and makes the next commit write the WAL from its
    /// start; `journal_size_limit` then cuts the file back. It waits up to `restartWaitMs` for
    /// readers of older pages; one that outlasts it only delays the restart to a later commit.
    public func boundWAL() throws {
        guard walBytes > Self.walRestartBytes else { return }
        try restartWAL()
    }

    /// Copies every committed page into the database file and restarts the WAL (see `boundWAL`).
    func restartWAL() throws {
        // A reader holding old pages makes it wait; briefly, so that a long reader of the KB does
        // not stall every commit: the next commit tries again.
        _ = try database.withBusyTimeout(ms: Self.restartWaitMs) { try database.rows("PRAGMA main.wal_checkpoint(RESTART)") }
    }
}
