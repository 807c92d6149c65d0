import ChannelProtocol
import ConnectorCore
import HTTPTypes
import Logging
import WSClient

/// Checks that the control plane is reachable and accepts this connector's credential:
/// opens the channel, says hello, waits for `welcome`, closes.
public enum ControlPlaneProbe {
    public static func check(config: DaemonConfig, credential: Credential, logger: Logger) async -> Result<String, ProbeFailure> {
        var configuration = WebSocketClientConfiguration()
        configuration.additionalHeaders = [.authorization: "Bearer \(credential.secret)"]
        configuration.autoPing = .disabled
        var quiet = logger
        quiet.logLevel = .critical
        let answer = ResultBox()
        do {
            // A plane that never answers does not hold `check`: 30 s for the whole exchange.
            _ = try await DialDeadline.run(handshakeSeconds: 30, graceSeconds: 3, isWelcomed: { answer.value != nil }) { [configuration, quiet] dial in
                try await WebSocketClient.connect(url: config.channelURL(), configuration: configuration, eventLoopGroup: try dial.group,
                                                  logger: quiet) { inbound, outbound, _ in
                    var hello = Hello(name: config.name, hostname: DaemonConfig.hostName(), os: SystemInfo.os, arch: SystemInfo.arch,
                                      version: SystemInfo.version, capabilities: Capabilities.all)
                    // Only a look: the daemon's own channel stays the connector's channel on the plane.
                    hello.probe = true
                    try? await outbound.write(.text(ChannelMessage.hello(hello).encoded()))
                    var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                    if case .text(let text)? = try await messages.next() { answer.set(try? ChannelMessage.decode(text)) }
                    try await outbound.close(.normalClosure, reason: "check")
                }
            }
        } catch {
            return .failure(ProbeFailure(description: "cannot reach \(config.channelURL()): \(error)"))
        }
        switch answer.value {
        case .welcome(let connectorID, _)?: return .success(connectorID)
        case .error(let code, let message)?: return .failure(ProbeFailure(description: "refused: \(code): \(message)"))
        default: return .failure(ProbeFailure(description: "no answer from \(config.channelURL())"))
        }
    }

    public struct ProbeFailure: Error, CustomStringConvertible {
        public let description: String
    }
}
