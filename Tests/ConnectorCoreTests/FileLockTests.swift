import ConnectorCore
import Foundation
import Testing

/// The `flock` locks that keep one process per job and one job per KB table: a racer refused the
/// lock names its holder, even when it reads the lock file before the holder has written it.
@Suite("File locks")
struct FileLockTests {
    let path = NSTemporaryDirectory() + "timbal-lock-\(UUID().uuidString.prefix(8)).lock"

    /// Takes the lock as a holder that writes its line only `after` seconds later.
    func holdThenWrite(_ line: String, after seconds: Double) throws -> Int32 {
        let fd = open(path, O_RDWR | O_CREAT, 0o600)
        try #require(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
        Thread.detachNewThread {
            Thread.sleep(forTimeInterval: seconds)
            _ = line.withCString { pwrite(fd, $0, strlen($0), 0) }
            _ = ftruncate(fd, off_t(line.utf8.count))
        }
        return fd
    }

    func refusal() throws -> String? {
        switch try FileLock.acquire(path: path, holder: "job=racer") {
        case .success: return nil
        case .failure(let held): return held.line
        }
    }

    @Test func aRacerThatFindsTheFileStillEmptyWaitsForTheHoldersLine() throws {
        defer { unlink(path) }
        let fd = try holdThenWrite("job=holder pid=\(getpid())\n", after: 0.03)
        defer { close(fd) }
        #expect(try refusal() == "job=holder pid=\(getpid())")
    }

    @Test func aRacerThatFindsTheLastHoldersLineWaitsForTheNewOne() throws {
        defer { unlink(path) }
        let gone = Process()
        gone.executableURL = URL(fileURLWithPath: "/bin/true")
        try gone.run()
        gone.waitUntilExit()
        try "job=old pid=\(gone.processIdentifier)\n".write(toFile: path, atomically: false, encoding: .utf8)
        let fd = try holdThenWrite("job=new pid=\(getpid())\n", after: 0.03)
        defer { close(fd) }
        #expect(try refusal() == "job=new pid=\(getpid())")
    }
}
