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
            var buffer = [UInt8](repeating: 0, count: 256)
            let count = read(fd, &buffer, buffer.count)
            close(fd)
            let text = count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : ""
            return .failure(HeldBy(line: text.split(separator: "\n").first.map(String.init) ?? "another process"))
        }
        _ = ftruncate(fd, 0)
        let line = "\(holder) pid=\(getpid())\n"
        _ = line.withCString { pwrite(fd, $0, strlen($0), 0) }
        return .success(FileLock(descriptor: fd, path: path))
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
