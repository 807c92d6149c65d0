import ChannelProtocol
import Foundation
import HTTPTypes
import Logging
import NIOCore
import TimbalModel
import WSClient

/// A connector that holds a valid credential and says whatever it likes: it speaks the channel
/// protocol (docs/protocol.md) over a real WebSocket, message by message, as a test scripts it.
final class HostileChannel {
    private var messages: WebSocketInboundMessageStream.AsyncIterator
    let outbound: WebSocketOutboundWriter

    private init(messages: WebSocketInboundMessageStream.AsyncIterator, outbound: WebSocketOutboundWriter) {
        self.messages = messages
        self.outbound = outbound
    }

    /// Opens `path` (`/v1/connect/channel` by default) with `Bearer secret` and runs `script` on it.
    static func open(_ baseURL: String, secret: String, path: String = "/v1/connect/channel",
                     _ script: @escaping @Sendable (HostileChannel) async throws -> Void) async throws {
        var configuration = WebSocketClientConfiguration()
        configuration.additionalHeaders = [.authorization: "Bearer \(secret)"]
        configuration.maxFrameSize = 64 << 20
        configuration.autoPing = .disabled
        var logger = Logger(label: "hostile")
        logger.logLevel = .critical
        _ = try await WebSocketClient.connect(url: baseURL + path, configuration: configuration, logger: logger) { inbound, outbound, _ in
            let channel = HostileChannel(messages: inbound.messages(maxSize: 64 << 20).makeAsyncIterator(), outbound: outbound)
            try await script(channel)
        }
    }

    func send(_ message: ChannelMessage) async throws {
        try await outbound.write(.text(message.encoded()))
    }

    /// Says hello as a connector would and returns the plane's answer.
    func hello() async throws -> ChannelMessage? {
        try await send(.hello(Hello(name: "hostile", hostname: "h", os: "linux", arch: "x86_64", version: "0.2.0",
                                    capabilities: ["source:postgres", "kb:local"])))
        return try await next()
    }

    /// Sends a batch as the protocol says: a binary message whose last member is `rows` (raw JSON).
    func sendBatch(_ header: HostedBatch, rows: String) async throws {
        let bytes = ChannelMessage.encodedBatch(header, rowsJSON: Array(rows.utf8))
        try await outbound.write(.binary(ByteBuffer(bytes: bytes)))
    }

    /// The next message from the plane that is not a `dispatch`/`stop` replay, or nil when the
    /// channel closed (or `seconds` passed: then it is closed).
    func next(seconds: Double = 20, skipping skipped: Set<String> = ["dispatch"]) async throws -> ChannelMessage? {
        let outbound = self.outbound
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
                try? await outbound.close(.normalClosure, reason: "test timeout")
            }
            defer { group.cancelAll() }
            while let message = try await messages.next() {
                guard case .text(let text) = message, let decoded = try ChannelMessage.decode(text) else { continue }
                if skipped.contains(decoded.type) { continue }
                return decoded
            }
            return nil
        }
    }
}

extension HostedBatch {
    /// A batch for the test table `orders (id INTEGER key, note TEXT)`.
    static func orders(job: String, seq: Int64, kb: Int64 = 42, dest: String = "orders", mode: String = "append",
                       columns: [HostedBatch.Column] = [.init(name: "id", dataType: "int8", kbType: "INTEGER"),
                                                        .init(name: "note", dataType: "text", kbType: "TEXT")]) -> HostedBatch {
        var batch = HostedBatch(jobID: job, seq: seq, kbID: kb, destTable: dest, mode: mode, keyColumns: ["id"],
                                columns: columns, rows: [], checkpoint: .object([("kind", .string("int")), ("value", .string("\(seq)"))]))
        batch.runStart = seq == 1
        batch.sourceColumns = columns
        return batch
    }
}
