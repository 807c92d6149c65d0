#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive `flock(2)` on a file, held until `release()` or deinit. The kernel drops it when
/// the process dies, so a crash never leaves a stale lock behind. The file holds a line naming
/// the holder, so a refused caller can say who holds it.
public final class FileLock {
    private var descriptor: Int32
    public let path: String

    /// Takes the lock or returns nil with the holder's line (e.g. `pid=42 job=nightly`).
    public static func acquire(path: String, holder: String) throws -> Result<FileLock, HeldBy> {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            throw KBError(field: "state-dir", problem: "cannot open lock file \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            defer { close(fd) }
            // The holder writes its line just after it takes the lock: a racer that reads before
            // then finds a new file empty, or the line of a holder that has gone. Read again for
            // a moment rather than name no one, or a dead process.
            var line = holderLine(fd)
            for _ in 0..<50 where !(line.map(namesALiveProcess) ?? false) {
                usleep(2_000)
                line = holderLine(fd)
            }
            return .failure(HeldBy(line: line ?? "another process"))
        }
        // Written over the last holder's line, then cut to length: the file is never empty.
        let line = "\(holder) pid=\(getpid())\n"
        _ = line.withCString { pwrite(fd, $0, strlen($0), 0) }
        _ = ftruncate(fd, off_t(line.utf8.count))
        return .success(FileLock(descriptor: fd, path: path))
    }

    /// The first line of the lock file; nil while it is empty.
    private static func holderLine(_ fd: Int32) -> String? {
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = pread(fd, &buffer, buffer.count, 0)
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count], as: UTF8.self).split(separator: "\n").first.map(String.init)
    }

    /// Whether the `pid=` a holder's line names is a running process (a line without one counts as live).
    private static func namesALiveProcess(_ line: String) -> Bool {
        guard let field = line.split(separator: " ").last(where: { $0.hasPrefix("pid=") }),
              let pid = pid_t(field.dropFirst(4)) else { return true }
        return kill(pid, 0) == 0 || errno == EPERM
    }

    /// Who holds a lock that could not be taken.
    public struct HeldBy: Error, Sendable {
        public let line: String
    }

    private init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    public func release() {
        guard descriptor >= 0 else { return }
        flock(descriptor, LOCK_UN)
        close(descriptor)
        descriptor = -1
    }

    deinit { release() }
}
