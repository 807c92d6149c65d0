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

    func enroll(request: Request, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        var messages = inbound.messages(maxSize: 1 << 16).makeAsyncIterator()
        guard case .text(let text)? = try await messages.next(), case .enroll(let enroll)? = try ChannelMessage.decode(text) else { return }
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
        if connector.revokedAt != nil {
            logger.warning("channel refused: the connector is revoked", metadata: ["connector.id": "\(connector.id)"])
            try await outbound.write(.text(ChannelMessage.error(code: "revoked", message: "this connector was revoked; enroll again").encoded()))
            try await outbound.close(.policyViolation, reason: "revoked")
            return
        }
        var messages = inbound.messages(maxSize: Self.maxMessageBytes).makeAsyncIterator()
        guard case .text(let text)? = try await messages.next(), case .hello(let hello)? = try ChannelMessage.decode(text) else { return }
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
                        try await land(batch, bytes: bytes, rows: rows, connectorID: connectorID, outbound: outbound)
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

    /// Lands a hosted batch and acknowledges it; a batch the KB refuses fails the job and stops it.
    /// An acknowledgement that cannot be sent (the channel is closing) is not a refusal: the
    /// connector sends the batch again on its next channel, and the plane lands each seq once.
    private func land(_ batch: HostedBatch, bytes: [UInt8], rows: Range<Int>, connectorID: String, outbound: WebSocketOutboundWriter) async throws {
        do {
            try hostedKBs.land(batch, bytes: bytes, rows: rows)
        } catch {
            logger.error("hosted batch refused", metadata: ["job.id": "\(batch.jobID)", "error": "\(error)"])
            try store.apply(JobReport(jobID: batch.jobID, reportSeq: Int64.max - 1, state: .failed, message: "hosted KB: \(error)"),
                            connectorID: connectorID)
            try await outbound.write(.text(ChannelMessage.stop(jobID: batch.jobID).encoded()))
            return
        }
        do {
            try await outbound.write(.text(ChannelMessage.batchAck(jobID: batch.jobID, seq: batch.seq).encoded()))
        } catch {
            logger.info("batch landed but its acknowledgement could not be sent; the connector will resend it",
                        metadata: ["job.id": "\(batch.jobID)", "seq": "\(batch.seq)"])
            throw error
        }
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
