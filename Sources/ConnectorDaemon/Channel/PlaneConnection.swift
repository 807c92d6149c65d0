import ConnectorCore
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import WSClient

/// How the connector reaches the control plane: TLS (system trust roots, or `ca_file` for a
/// private CA) and an HTTP CONNECT proxy (`proxy` in config.json, else the usual `HTTPS_PROXY` /
/// `https_proxy` / `http_proxy` variables, with `NO_PROXY`). Shared by the channel and enrollment.
public struct PlaneConnection: Sendable {
    public var caFile: String?
    /// `http://host:port` of a CONNECT proxy; nil = the environment's (or none).
    public var proxy: String?

    public init(caFile: String? = nil, proxy: String? = nil) {
        self.caFile = caFile
        self.proxy = proxy
    }

    public struct ProxyError: Error, CustomStringConvertible {
        public let value: String
        public var description: String { "proxy: expected http://host:port, got \"\(value)\"" }
    }

    /// `http://host:port` -> host and port.
    public static func parseProxy(_ value: String) -> (host: String, port: Int)? {
        guard value.hasPrefix("http://") else { return nil }
        let authority = value.dropFirst("http://".count).prefix { $0 != "/" }
        guard let colon = authority.lastIndex(of: ":"), let port = Int(authority[authority.index(after: colon)...]),
              port > 0, port < 65_536, colon > authority.startIndex else { return nil }
        return (String(authority[..<colon]), port)
    }

    func tlsConfiguration() throws -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile { tls.trustRoots = .file(caFile) }
        return tls
    }

    func proxySettings() -> WebSocketProxySettings {
        if let proxy, let (host, port) = Self.parseProxy(proxy) {
            return WebSocketProxySettings(host: host, port: port, type: .http(), timeout: .seconds(30))
        }
        return .environment()
    }

    /// Dials `url` through the proxy (if any) with this TLS configuration, on `eventLoopGroup`
    /// (a dial's own, so that it can be ended: `DialDeadline`).
    func connect(url: String, configuration: WebSocketClientConfiguration,
                 eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger,
                 handler: @escaping WebSocketDataHandler<WebSocketClient.Context>) async throws -> WebSocketCloseFrame? {
        try await WebSocketClient.connect(url: url, configuration: configuration, tlsConfiguration: try tlsConfiguration(),
                                          proxySettings: proxySettings(), eventLoopGroup: eventLoopGroup, logger: logger, handler: handler)
    }
}
