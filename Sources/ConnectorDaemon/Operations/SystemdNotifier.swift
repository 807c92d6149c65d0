import ConnectorCore
import FoundationEssentials
import Logging
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// Talks to systemd (`Type=notify`): READY=1 once the daemon is set up, STOPPING=1 on shutdown,
/// and WATCHDOG=1 pings at half of `WatchdogSec` while the main loop is healthy. Writes datagrams
/// to `$NOTIFY_SOCKET`; does nothing when systemd did not set it.
public final class SystemdNotifier: Service, Sendable {
    private let socketPath: String?
    private let watchdogInterval: Double?
    private let isHealthy: @Sendable () -> Bool
    private let logger: Logger

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, logger: Logger,
                isHealthy: @escaping @Sendable () -> Bool = { true }) {
        socketPath = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        if let usec = environment["WATCHDOG_USEC"].flatMap(Double.init), usec > 0 {
            watchdogInterval = usec / 2_000_000
        } else {
            watchdogInterval = nil
        }
        self.isHealthy = isHealthy
        self.logger = logger
    }

    /// Sends one notification, e.g. `READY=1`; false when there is no socket or the send failed.
    @discardableResult
    public func notify(_ state: String) -> Bool {
        guard let socketPath else { return false }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var path = Array(socketPath.utf8)
        if path.first == UInt8(ascii: "@") { path[0] = 0 }  // abstract namespace
        guard path.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.enumerated() { raw[index] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count)
        let message = Array(state.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, message, message.count, 0, $0, length) }
        }
        return sent == message.count
    }

    /// Pings the watchdog while healthy; says STOPPING=1 when shutdown begins.
    public func run() async throws {
        guard socketPath != nil else {
            try? await gracefulShutdown()
            return
        }
        if let interval = watchdogInterval {
            logger.debug("systemd watchdog on", metadata: ["interval_s": "\(twoDecimals(interval))"])
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                if isHealthy() { notify("WATCHDOG=1") }
                try? await Task.sleep(for: .milliseconds(Int(interval * 1000)))
            }
        } else {
            try? await gracefulShutdown()
        }
        notify("STOPPING=1")
    }
}
