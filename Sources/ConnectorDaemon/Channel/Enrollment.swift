import ChannelProtocol
import Synchronization
import ConnectorCore
import HTTPTypes
import Logging
import WSClient

/// Trades an enrollment token for the connector's credential over `/v1/connect/enroll`.
public enum Enrollment {
    public struct Failure: Error, CustomStringConvertible {
        public let problem: String
        public var description: String { "enrollment failed: \(problem)" }
    }

    public static func enroll(config: DaemonConfig, token: String, logger: Logger) async throws -> Credential {
        var configuration = WebSocketClientConfiguration()
        configuration.additionalHeaders = [.authorization: "Bearer \(token)"]
        configuration.autoPing = .disabled
        let result = ResultBox()
        var quiet = logger
        quiet.logLevel = .warning
        do {
            // A plane that never answers does not hold `enroll`: 30 s for the whole exchange.
            _ = try await DialDeadline.run(handshakeSeconds: 30, graceSeconds: 3, isWelcomed: { result.value != nil }) { [configuration, quiet] dial in
                try await config.planeConnection.connect(url: config.channelURL("enroll"), configuration: configuration,
                                                         eventLoopGroup: try dial.group, logger: quiet) { inbound, outbound, _ in
                    try await outbound.write(.text(ChannelMessage.enroll(Enroll(name: config.name, hostname: DaemonConfig.hostName())).encoded()))
                    var messages = inbound.messages(maxSize: 1 << 16).makeAsyncIterator()
                    guard case .text(let text)? = try await messages.next() else { return }
                    result.set(try ChannelMessage.decode(text))
                }
            }
        } catch {
            // NIO's errors are dumps of its internals; an operator needs the URL and the reason.
            throw Failure(problem: "cannot reach the control plane at \(config.controlPlaneURL): \(plainReason(error))")
        }
        switch result.value {
        case .enrolled(let connectorID, let secret)?:
            return Credential(connectorID: connectorID, secret: secret, name: config.name)
        case .error(let code, let message)?:
            throw Failure(problem: "\(code): \(message)")
        default:
            throw Failure(problem: "the control plane at \(config.channelURL("enroll")) closed the channel without an answer")
        }
    }
}

/// "connection refused", "host not found", ...: the gist of a connection error in a few words.
func plainReason(_ error: Error) -> String {
    let text = String(describing: error)
    let known: [(String, String)] = [
        ("cannotUseIPAddressInSNI", "https:// needs the plane's host name, not an IP address (a certificate names a host)"),
        ("CERTIFICATE_VERIFY_FAILED", "the plane's TLS certificate is not trusted (set ca_file to its CA)"),
        ("unable to get local issuer", "the plane's TLS certificate is not trusted (set ca_file to its CA)"),
        ("self signed", "the plane's TLS certificate is not trusted (set ca_file to its CA)"),
        ("hostnameMismatch", "the plane's TLS certificate is for another host name"),
        ("Hostname", "the plane's TLS certificate is for another host name"),
        ("connectionRefused", "connection refused"), ("Connection refused", "connection refused"),
        ("ECONNREFUSED", "connection refused"), ("NXDOMAIN", "host not found"), ("nodename nor servname", "host not found"),
        ("Name or service not known", "host not found"), ("connectTimeout", "connection timed out"),
        ("timeout", "timed out"), ("NIOSSLError", "TLS handshake failed"), ("certificate", "TLS certificate rejected"),
        ("invalidResponseStatus", "the server did not accept the WebSocket upgrade (wrong URL?)"),
        ("unexpectedHTTPResponse", "the server did not accept the WebSocket upgrade (wrong URL?)"),
    ]
    for (needle, reason) in known where text.contains(needle) { return reason }
    return String(text.prefix(160))
}

final class ResultBox: Sendable {
    private let stored = Mutex<ChannelMessage?>(nil)
    func set(_ message: ChannelMessage?) { stored.withLock { $0 = message } }
    var value: ChannelMessage? { stored.withLock { $0 } }
}
