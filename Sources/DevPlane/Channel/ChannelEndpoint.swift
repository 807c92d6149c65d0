import ChannelProtocol
import TimbalModel
import TimbalSupport
import Hummingbird
import HummingbirdWebSocket
import Logging

/// The plane's side of the connector channel (`/v1/connect/channel`) and of enrollment (`/v1/connect/enroll`).
struct ChannelEndpoint: Sendable {
    let store: PlaneStore
    let hostedKBs: HostedKBs
    let hub: ConnectorHub
    let logger: Logger

    static let maxMessageBytes = 64 << 20

    static func bearer(_ request: Request) -> String? {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else { return nil }
        return String(header.dropFirst(7))
    }

    /// Seconds a socket may stay open before its first message (`hello`, `enroll`): a socket that
    /// says nothing is closed rather than kept for ever (or until a revocation it would outlive).
    static let firstMessageSeconds = 10

    /// The first message, or nil when none came within `firstMessageSeconds` (the socket is then
    /// closed with 1008) or the peer closed first.
    private func firstMessage(_ messages: inout WebSocketInboundMessageStream.AsyncIterator,
                              outbound: WebSocketOutboundWriter, expecting: String) async throws -> WebSocketMessage? {
        let logger = self.logger
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await Task.sleep(for: .seconds(Self.firstMessageSeconds))
                logger.warning("socket closed: no \(expecting) within \(Self.firstMessageSeconds) s")
                try? await outbound.write(.text(ChannelMessage.error(code: "timeout", message: "no \(expecting) within \(Self.firstMessageSeconds) s").encoded()))
                try? await outbound.close(.policyViolation, reason: "no \(expecting) in time")
            }
            defer { group.cancelAll() }
            return try await messages.next()
        }
    }

    func enroll(request: Request, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        var messages = inbound.messages(maxSize: 1 << 16).makeAsyncIterator()
        guard case .text(let text)? = try await firstMessage(&messages, outbound: outbound, expecting: "enroll"),
              case .enroll(let enroll)? = try ChannelMessage.decode(text) else { return }
        guard let token = Self.bearer(request), let enrolled = try store.enroll(token: token, name: enroll.name, hostname: enroll.hostname) else {
            try await outbound.write(.text(ChannelMessage.error(code: "invalid_token", message: "the enrollment token is unknown, used or expired").encoded()))
            return
        }
        logger.info("connector enrolled", metadata: ["connector.id": "\(enrolled.connectorID)", "name": "\(enroll.name.forLog)"])
        try await outbound.write(.text(ChannelMessage.enrolled(connectorID: enrolled.connectorID, credential: enrolled.credential).encoded()))
    }

    func channel(request: Request, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        guard let secret = Self.bearer(request), let connector = try store.connector(credential: secret) else {
            logger.warning("channel refused: invalid credential")
            try await outbound.write(.text(ChannelMessage.error(code: "unauthorized", message: "invalid credential").encoded()))
            try await outbound.close(.policyViolation, reason: "invalid credential")
            return
        }
        if connector.revokedAt != nil { return try await refuseRevoked(connector.id, outbound: outbound) }
        var messages = inbound.messages(maxSize: Self.maxMessageBytes).makeAsyncIterator()
        guard case .text(let text)? = try await firstMessage(&messages, outbound: outbound, expecting: "hello"),
              case .hello(let hello)? = try ChannelMessage.decode(text) else { return }
        // Revocation is checked again at hello: a channel opened before the revocation and silent
        // since gets no welcome.
        guard try !isRevoked(connector.id) else { return try await refuseRevoked(connector.id, outbound: outbound) }
        guard hello.protocolVersion == channelProtocolVersion else {
            try await outbound.write(.text(ChannelMessage.error(code: "unsupported_protocol",
                                                                message: "this plane speaks protocol \(channelProtocolVersion), not \(hello.protocolVersion)").encoded()))
            try await outbound.close(.policyViolation, reason: "unsupported protocol")
            return
        }
        let connectorID = connector.id
        if hello.probe {
            // `check`: the credential is good; the connector's own channel is left alone.
            try await outbound.write(.text(ChannelMessage.welcome(connectorID: connectorID, heartbeatSeconds: 10).encoded()))
            try await outbound.close(.normalClosure, reason: "probe answered")
            return
        }
        try store.recordHello(connectorID: connectorID, hello)
        let session = await hub.register(connectorID, outbound: outbound)
        // A revocation between the check above and the registration found no channel to close.
        if try isRevoked(connectorID) {
            await hub.unregister(connectorID, session: session)
            return try await refuseRevoked(connectorID, outbound: outbound)
        }
        logger.info("connector connected", metadata: ["connector.id": "\(connectorID)", "name": "\(hello.name.forLog)", "version": "\(hello.version.forLog)"])
        do {
            try await outbound.write(.text(ChannelMessage.welcome(connectorID: connectorID, heartbeatSeconds: 10).encoded()))
            // Jobs dispatched while it was away (or whose dispatch was lost) go out again; it runs each job id once.
            for job in try store.openJobs(connectorID: connectorID) {
                try await outbound.write(.text(try dispatchMessage(job).encoded()))
            }
            // Stops issued while it was away (or not yet confirmed) go out again, until it reports the job ended.
            for jobID in try store.pendingStops(connectorID: connectorID) {
                try await outbound.write(.text(ChannelMessage.stop(jobID: jobID).encoded()))
            }
            // Batches land on their own task, so reading the next frame overlaps writing this one.
            let (batches, landing) = AsyncStream<(HostedBatch, [UInt8], Range<Int>)>.makeStream(bufferingPolicy: .unbounded)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await (batch, bytes, rows) in batches {
                        try await admitAndLand(batch, bytes: bytes, rows: rows, connectorID: connectorID, outbound: outbound)
                    }
                }
                defer { landing.finish() }
                while let message = try await messages.next() {
                    let text: String
                    switch message {
                    case .binary(let buffer):
                        // Hosted rows stream from the message bytes into SQLite without a JSON tree.
                        let bytes = Array(buffer.readableBytesView)
                        guard let (tree, range) = try? JSONParser.parse(bytes, leavingLastMemberRaw: "rows"),
                              case .batch(let header)? = try? ChannelMessage.decode(tree), let range else { continue }
                        landing.yield((header, bytes, range))
                        continue
                    case .text(let value):
                        text = value
                    }
                    guard let decoded = try? ChannelMessage.decode(text) else { continue }
                    try await handle(decoded, connectorID: connectorID, outbound: outbound)
                }
                landing.finish()
                try await group.waitForAll()
            }
        } catch {
            logger.warning("channel error", metadata: ["connector.id": "\(connectorID)", "error": "\(error)"])
        }
        await hub.unregister(connectorID, session: session)
        logger.info("connector disconnected", metadata: ["connector.id": "\(connectorID)"])
    }

    func dispatchMessage(_ job: PlaneStore.JobRow) throws -> ChannelMessage {
        let resume = job.placement == "hosted" ? try hostedKBs.position(jobID: job.id, kbID: job.kbID) : nil
        return .dispatch(jobID: job.id, spec: try JSONParser.parse(job.spec), resume: resume)
    }

    private func isRevoked(_ connectorID: String) throws -> Bool {
        try store.connector(id: connectorID)?.revokedAt != nil
    }

    private func refuseRevoked(_ connectorID: String, outbound: WebSocketOutboundWriter) async throws {
        logger.warning("channel refused: the connector is revoked", metadata: ["connector.id": "\(connectorID)"])
        try await outbound.write(.text(ChannelMessage.error(code: "revoked", message: "this connector was revoked; enroll again").encoded()))
        try await outbound.close(.policyViolation, reason: "revoked")
    }

    private func handle(_ message: ChannelMessage, connectorID: String, outbound: WebSocketOutboundWriter) async throws {
        switch message {
        case .heartbeat:
            try store.touch(connectorID: connectorID)
        case .jobReport(let report):
            try store.apply(report, connectorID: connectorID)
            try await outbound.write(.text(ChannelMessage.reportAck(jobID: report.jobID, reportSeq: report.reportSeq).encoded()))
        case .batch(let batch):
            // Batches carry megabytes of rows and must come as binary messages (docs/protocol.md).
            logger.warning("batch refused: sent as a text message", metadata: ["job.id": "\(batch.jobID)"])
        case .resumeRequest(let jobID):
            // A job the plane has ended (stopped while the connector was down, say) or never knew is not resumed.
            guard let job = try store.job(id: jobID, connectorID: connectorID), !job.isTerminal else {
                try await outbound.write(.text(ChannelMessage.stop(jobID: jobID).encoded()))
                return
            }
            let position = try (job.placement == "hosted" ? hostedKBs.position(jobID: jobID, kbID: job.kbID) : nil)
                ?? HostedResume(jobID: jobID, seq: 0, checkpoint: nil, rowsLanded: 0)
            try await outbound.write(.text(ChannelMessage.resume(position).encoded()))
        case .reply(let reply):
            await hub.deliver(reply, from: connectorID)
        default:
            break
        }
    }
}
