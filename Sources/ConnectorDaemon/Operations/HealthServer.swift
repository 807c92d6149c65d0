import ConnectorCore
import Logging
import Prometheus
import ServiceLifecycle
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A loopback-only HTTP endpoint for operators and monitoring: `/healthz` (the process answers),
/// `/readyz` (channel up and state DB open) and `/metrics` (Prometheus text format).
/// A tiny server on its own threads (one per connection, at most 32): three GET routes need no
/// framework, and a thread costs a stack, not the tens of MiB of an HTTP server stack.
public final class HealthServer: Service, Sendable {
    private let host: String
    private let port: UInt16
    private let registry: PrometheusCollectorRegistry
    private let isReady: @Sendable () -> Bool
    private let logger: Logger

    public struct AddressError: Error, CustomStringConvertible {
        public let description: String
    }

    /// `address` is `127.x.y.z:PORT`; anything but loopback is refused (metrics stay on the host).
    public init(address: String, registry: PrometheusCollectorRegistry, logger: Logger, isReady: @escaping @Sendable () -> Bool) throws {
        guard let (host, port) = Self.loopback(address) else {
            throw AddressError(description: "metrics_address: expected a loopback IPv4 address and a port like 127.0.0.1:9464, got \"\(address)\"")
        }
        self.host = host
        self.port = port
        self.registry = registry
        self.isReady = isReady
        self.logger = logger
    }

    /// Parses `127.x.y.z:PORT` (or `localhost:PORT`) with the system's own parser: anything it does
    /// not read as an IPv4 loopback address is refused (a lenient check once bound 0.0.0.0).
    public static func loopback(_ address: String) -> (host: String, port: UInt16)? {
        let parts = address.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let port = UInt16(parts[1]), port > 0 else { return nil }
        let host = parts[0] == "localhost" ? "127.0.0.1" : String(parts[0])
        var parsed = in_addr()
        guard inet_pton(AF_INET, host, &parsed) == 1 else { return nil }
        guard UInt32(bigEndian: parsed.s_addr) >> 24 == 127 else { return nil }
        return (host, port)
    }

    public func run() async throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw AddressError(description: "metrics_address: cannot create a socket (errno \(errno))") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            close(fd)
            throw AddressError(description: "metrics_address: \(host) is not an IPv4 address")
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            close(fd)
            throw AddressError(description: "metrics_address: cannot listen on \(host):\(port) (errno \(errno))")
        }
        logger.info("health endpoint listening", metadata: ["address": "http://\(host):\(port)"])
        let thread = OSThread(name: "timbal-health") { [self] in serve(fd) }
        try? await gracefulShutdown()
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
        thread.join()
    }

    /// Connections served at once; more are closed at once (a scraper retries).
    static let maxConnections = 32
    private let activeCount = Mutex(0)

    /// Each connection is answered on a thread of its own with 2 s send/receive timeouts, so idle
    /// or slow clients never hold up `/healthz` for the others.
    private func serve(_ listener: Int32) {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return  // the listener was shut down
            }
            let admitted = activeCount.withLock { count -> Bool in
                guard count < Self.maxConnections else { return false }
                count += 1
                return true
            }
            guard admitted else { close(client); continue }
            _ = OSThread(name: "timbal-health-client", detached: true) { [self] in
                answer(client)
                activeCount.withLock { $0 -= 1 }
            }
        }
    }

    private func answer(_ client: Int32) {
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(client, &buffer, buffer.count, 0)
        let request = count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : ""
        let response = respond(to: request)
        response.withUnsafeBufferPointer { _ = send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        close(client)
    }

    func respond(to request: String) -> [UInt8] {
        let line = request.split(separator: "\r\n").first.map(String.init) ?? ""
        let parts = line.split(separator: " ")
        guard parts.count >= 2, parts[0] == "GET" else { return Self.http(405, "text/plain", Array("method not allowed\n".utf8)) }
        switch parts[1] {
        case "/healthz":
            return Self.http(200, "text/plain", Array("ok\n".utf8))
        case "/readyz":
            return isReady() ? Self.http(200, "text/plain", Array("ready\n".utf8))
                             : Self.http(503, "text/plain", Array("not ready: the channel to the control plane is down\n".utf8))
        case "/metrics":
            return Self.http(200, "text/plain; version=0.0.4", registry.emitToBuffer())
        default:
            return Self.http(404, "text/plain", Array("not found\n".utf8))
        }
    }

    static func http(_ status: Int, _ type: String, _ body: [UInt8]) -> [UInt8] {
        let reason = [200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"][status] ?? "OK"
        let head = "HTTP/1.1 \(status) \(reason)\r\nContent-Type: \(type)\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        return Array(head.utf8) + body
    }
}
