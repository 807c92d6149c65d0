import ChannelProtocol
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
        _ = try await WebSocketClient.connect(url: config.channelURL("enroll"), configuration: configuration, logger: quiet) {
            inbound, outbound, _ in
            try await outbound.write(.text(ChannelMessage.enroll(Enroll(name: config.name, hostname: DaemonConfig.hostName())).encoded()))
            var messages = inbound.messages(maxSize: 1 << 16).makeAsyncIterator()
            guard case .text(let text)? = try await messages.next() else { return }
            result.set(try ChannelMessage.decode(text))
        }
        switch result.value {
        case .enrolled(let connectorID, let secret)?:
            return Credential(connectorID: connectorID, secret: secret)
        case .error(let code, let message)?:
            throw Failure(problem: "\(code): \(message)")
        default:
            throw Failure(problem: "the control plane at \(config.channelURL("enroll")) closed the channel without an answer")
        }
    }
}

final class ResultBox: @unchecked Sendable {
    private let lock = Condition()
    private var stored: ChannelMessage?
    func set(_ message: ChannelMessage?) { lock.withLock { stored = message } }
    var value: ChannelMessage? { lock.withLock { stored } }
}
