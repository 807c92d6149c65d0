#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A mutex with a condition variable (pthread), on the monotonic clock (Linux: the package
/// declares no other platform). For a plain lock, use `Lock`.
/// Foundation's NSCondition would do, but Foundation alone costs the process ~7 MiB of RSS.
public final class Condition: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    public init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        #if canImport(Glibc)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        #endif
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    public func lock() { pthread_mutex_lock(mutex) }
    public func unlock() { pthread_mutex_unlock(mutex) }

    public func withLock<R>(_ body: () throws -> R) rethrows -> R {
        lock(); defer { unlock() }
        return try body()
    }

    /// Waits for a signal; call with the lock held.
    public func wait() { pthread_cond_wait(condition, mutex) }

    /// Waits until a signal or `deadline` (seconds on the monotonic clock); false on timeout.
    @discardableResult
    public func wait(until deadline: Double) -> Bool {
        var spec = timespec()
        spec.tv_sec = Int(deadline)
        spec.tv_nsec = Int((deadline - Double(Int(deadline))) * 1e9)
        return pthread_cond_timedwait(condition, mutex, &spec) == 0
    }

    public func broadcast() { pthread_cond_broadcast(condition) }
}

/// A joinable OS thread for blocking work (libpq, SQLite), off Swift's cooperative pool.
public final class OSThread: @unchecked Sendable {
    private var handle = pthread_t()
    private final class Box { let body: () -> Void; init(_ body: @escaping () -> Void) { self.body = body } }

    /// Starts `body` on a new thread; `name` says what it is for in code (glibc's naming call is not exposed to Swift).
    /// A `detached` thread frees its resources when it ends and cannot be joined.
    public init(name: String, detached: Bool = false, _ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        let created = pthread_create(&handle, nil, { argument in
            let box = Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue()
            box.body()
            return nil
        }, box)
        precondition(created == 0, "pthread_create failed: \(created)")
        if detached { pthread_detach(handle) }
    }

    /// Waits for the thread to finish.
    public func join() { pthread_join(handle, nil) }
}

/// Seconds on the monotonic clock.
public func monotonicSeconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

/// The current UTC time as ISO-8601 with milliseconds, without Foundation's formatters.
public func utcTimestamp() -> String { utcTimestamp(microseconds: false) }

/// The current UTC time as ISO-8601 with microseconds (the KB's timestamptz form).
public func utcTimestampMicroseconds() -> String { utcTimestamp(microseconds: true) }

private func utcTimestamp(microseconds: Bool) -> String {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    var seconds = spec.tv_sec
    var parts = tm()
    gmtime_r(&seconds, &parts)
    func pad(_ value: Int32, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
    let fraction = microseconds ? pad(Int32(spec.tv_nsec / 1_000), 6) : pad(Int32(spec.tv_nsec / 1_000_000), 3)
    return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
        + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(fraction)Z"
}

/// `value` with two decimals, e.g. `0.25`, without Foundation's String(format:).
public func twoDecimals(_ value: Double) -> String {
    let hundredths = Int((value * 100).rounded())
    let sign = hundredths < 0 ? "-" : ""
    let magnitude = abs(hundredths)
    let fraction = magnitude % 100
    return "\(sign)\(magnitude / 100).\(fraction < 10 ? "0" : "")\(fraction)"
}

/// Writes `text` to stderr in one write(2) call, so lines from two threads never interleave.
public func writeToStandardError(_ text: String) {
    var text = text
    text.withUTF8 { bytes in
        var offset = 0
        while offset < bytes.count {
            let written = write(2, bytes.baseAddress! + offset, bytes.count - offset)
            if written <= 0 { return }
            offset += written
        }
    }
}

/// Seconds since the Unix epoch (wall clock).
public func unixSeconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}
