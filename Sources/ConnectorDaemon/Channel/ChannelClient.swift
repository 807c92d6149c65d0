import ChannelProtocol
import ConnectorCore
import HTTPTypes
import Logging
import Metrics
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import WSClient

/// Holds the one channel to the control plane open: dials out with the credential, says hello,
/// heartbeats, hands commands to the job runner, sends what the outbox holds, and redials with
/// jittered exponential backoff when the channel drops.
public final class ChannelClient: Service, Sendable {
    private let config: DaemonConfig
    private let credential: Credential
    private let store: StateStore
    private let outbox: Outbox
    private let runner: JobRunner
    private let requests: RequestHandler
    /// Where the channel's blocking work runs, in order: commands from the plane (a stop may
    /// cancel a query, a network round trip) and state DB reads and writes. Never the pool.
    private let control = SerialThread(name: "timbal-channel-control")
    private let logger: Logger
    /// What the channel's tasks share: whether it is up, the plane welcomed this dial, revoked us.
    private struct Flags {
        var up = false
        var welcomed = false
        var revoked = false
    }
    private let flags = Mutex(Flags())

    /// Seconds between WebSocket pings; a peer silent for two periods is given up on.
    public static let pingSeconds: Int64 = 10

    /// Largest message accepted on the channel (hosted batches are large).
    public static let maxMessageBytes = 64 << 20

    /// Beats while the channel's loops turn (see `Liveness`).
    public let liveness: Liveness
    /// A dial whose handshake (up to the plane's `welcome`) takes longer is abandoned and redialed.
    public static let handshakeTimeoutSeconds: Int64 = 30

    public init(config: DaemonConfig, credential: Credential, store: StateStore, outbox: Outbox, runner: JobRunner, logger: Logger,
                liveness: Liveness = Liveness()) {
        self.liveness = liveness
        self.config = config
        self.credential = credential
        self.store = store
        self.outbox = outbox
        self.runner = runner
        self.logger = logger
        self.requests = RequestHandler(config: config, outbox: outbox, logger: logger)
    }

    public var isUp: Bool { flags.withLock { $0.up } }

    public func run() async throws {
        let retry = RetryPolicy(maxAttempts: .max, baseDelay: 0.5, maxDelay: 30)
        var attempt = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            liveness.beat("channel")
            var refused: String?
            do {
                let close = try await cancelWhenGracefulShutdown { try await self.sessionWithHandshakeTimeout() }
                if let close, close.closeCode == .policyViolation {
                    refused = close.reason ?? "policy violation"
                }
                attempt = close == nil ? attempt : 0
            } catch is CancellationError {
                // Shutdown, not a fault.
            } catch {
                if !Task.isShuttingDownGracefully { logger.warning("channel error", metadata: ["error": "\(error)"]) }
            }
            setUp(false)
            if flags.withLock({ $0.revoked }) {
                Credential.markRevoked(stateDir: config.stateDir)
                logger.critical("the control plane revoked this connector: stopping its jobs and exiting with status \(ConnectorRevoked.exitStatus) (systemd does not restart it); enroll again to reconnect")
                try await BlockingThread.run { [runner] in runner.stopAll(message: "the connector was revoked") }
                throw ConnectorRevoked()
            }
            if Task.isCancelled || Task.isShuttingDownGracefully { break }
            attempt += 1
            let delay = retry.delay(attempt: attempt)
            if let refused {
                logger.error("control plane refused the channel: \(refused); check the credential (re-enroll with `timbal-connector enroll`)",
                             metadata: ["retry.delay_s": "\(twoDecimals(delay))"])
            } else {
                logger.warning("channel down", metadata: ["retry.delay_s": "\(twoDecimals(delay))", "url": "\(config.channelURL())"])
            }
            Self.reconnectCounter.increment()
            // SIGTERM cuts the back-off short.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(Int(delay * 1000))) }
        }
    }

    private static let upGauge = Gauge(label: "timbal_channel_up")
    private static let reconnectCounter = Counter(label: "timbal_channel_reconnects_total")

    private func setUp(_ value: Bool) {
        flags.withLock { $0.up = value }
        Self.upGauge.record(value ? 1 : 0)
    }

    /// A plane that accepts TCP but never answers (stopped, overloaded) would hold a dial for
    /// ever: the handshake (up to `welcome`) gets `handshakeTimeoutSeconds`, then the dial's socket
    /// is closed; on SIGTERM the session gets `shutdownGraceSeconds` to close the channel itself.
    private func sessionWithHandshakeTimeout() async throws -> WebSocketCloseFrame? {
        flags.withLock { $0.welcomed = false }
        return try await DialDeadline.run(handshakeSeconds: Double(Self.handshakeTimeoutSeconds), graceSeconds: Self.shutdownGraceSeconds,
                                          isWelcomed: { self.flags.withLock { $0.welcomed } }) { dial in
            try await self.session(on: try dial.group)
        }
    }

    /// Seconds a session has after SIGTERM before its socket is closed under it.
    static let shutdownGraceSeconds = 3.0

    /// Batches unacknowledged this long while the channel is up mean a plane that takes batches
    /// and does not answer: the channel is dropped and redialed, and they are sent again.
    public static let ackTimeoutSeconds = 120.0

    struct AckTimeout: Error, CustomStringConvertible {
        let jobID: String
        var description: String { "job \(jobID): the control plane acknowledged no batch for \(Int(ChannelClient.ackTimeoutSeconds)) s; redialing" }
    }

    private func session(on group: MultiThreadedEventLoopGroup) async throws -> WebSocketCloseFrame? {
        var configuration = WebSocketClientConfiguration()
        configuration.maxFrameSize = Self.maxMessageBytes
        configuration.additionalHeaders = [.authorization: "Bearer \(credential.secret)"]
        // A silent peer (a stopped plane, a dead link the kernel still acknowledges) is noticed:
        // a ping every `pingSeconds`, and the channel is closed when its pong has not come by the next.
        configuration.autoPing = .enabled(timePeriod: .seconds(Self.pingSeconds))
        configuration.closeTimeout = .seconds(5)
        return try await config.planeConnection.connect(url: config.channelURL(), configuration: configuration, eventLoopGroup: group,
                                                        logger: quietLogger) {
            inbound, outbound, _ in
            try await self.converse(inbound: inbound, outbound: outbound)
        }
    }

    /// NIO's own logs stay quiet unless the daemon runs at trace level.
    private var quietLogger: Logger {
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .warning)
        return quiet
    }

    private func converse(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        let hello = Hello(name: config.name, hostname: DaemonConfig.hostName(), os: SystemInfo.os, arch: SystemInfo.arch,
                          version: SystemInfo.version, capabilities: Capabilities.all)
        do {
            try await outbound.write(.text(ChannelMessage.hello(hello).encoded()))
        } catch {
            // The plane may already have refused the channel (and closed it): its reason is still to be read.
            logger.debug("hello not sent", metadata: ["error": "\(error)"])
        }
        var messages = inbound.messages(maxSize: Self.maxMessageBytes).makeAsyncIterator()
        guard let first = try await messages.next() else { return }
        guard case .text(let text) = first, case .welcome(let connectorID, let heartbeat)? = try ChannelMessage.decode(text) else {
            if case .text(let text) = first, case .error(let code, let message)? = try? ChannelMessage.decode(text) {
                if code == ConnectorRevoked.code {
                    flags.withLock { $0.revoked = true }
                } else {
                    logger.error("control plane refused the channel: \(code): \(message)")
                }
            }
            return
        }
        flags.withLock { $0.welcomed = true }
        setUp(true)
        logger.info("channel up", metadata: ["connector.id": "\(connectorID)", "url": "\(config.channelURL())"])
        // Everything the plane has not acknowledged goes out again; it applies each fact once.
        outbox.dropFrames()
        let store = self.store, outbox = self.outbox, runner = self.runner
        try await control.run {
            for jobID in try store.unacknowledgedJobs() { outbox.reportChanged(jobID: jobID) }
            runner.channelUp()
        }

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.writeOutbox(outbound) }
            group.addTask {
                while !Task.isCancelled {
                    try await Task.sleep(for: .seconds(5))
                    if let jobID = self.runner.jobWithOverdueAcks(after: Self.ackTimeoutSeconds) { throw AckTimeout(jobID: jobID) }
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    self.liveness.beat("channel")
                    try await Task.sleep(for: .seconds(max(1, min(heartbeat, self.config.heartbeatSeconds))))
                    try await outbound.write(.text(ChannelMessage.heartbeat.encoded()))
                }
            }
            // Read until the channel closes, then stop the writer and the heartbeat with it.
            defer { group.cancelAll() }
            while let message = try await messages.next() {
                guard case .text(let text) = message else { continue }
                do {
                    if let decoded = try ChannelMessage.decode(text) { self.control.submit { self.handle(decoded) } }
                } catch {
                    self.logger.warning("unreadable message from the control plane", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    private func writeOutbox(_ outbound: WebSocketOutboundWriter) async throws {
        for await _ in outbox.subscribe() {
            let items = outbox.drain()
            let store = self.store
            let reportIDs: [String] = items.compactMap { if case .report(let jobID) = $0 { return jobID }; return nil }
            let reports: [String: JobReport] = reportIDs.isEmpty ? [:] : try await control.run {
                var reports: [String: JobReport] = [:]
                for jobID in reportIDs { reports[jobID] = try store.report(jobID: jobID) }
                return reports
            }
            for item in items {
                switch item {
                case .report(let jobID):
                    if let report = reports[jobID] {
                        try await outbound.write(.text(ChannelMessage.jobReport(report).encoded()))
                    }
                case .frame(let frame):
                    try await outbound.write(.text(frame))
                case .binary(let bytes):
                    try await outbound.write(.binary(ByteBuffer(bytes: bytes)))
                }
            }
        }
    }

    /// Runs on `control`, one message at a time, in the order they came.
    private func handle(_ message: ChannelMessage) {
        switch message {
        case .dispatch(let jobID, let spec, let resume):
            runner.dispatch(jobID: jobID, spec: spec, resume: resume)
        case .stop(let jobID):
            runner.stop(jobID: jobID)
        case .reportAck(let jobID, let seq):
            try? store.acknowledge(jobID: jobID, reportSeq: seq)
        case .batchAck(let jobID, let seq):
            runner.acknowledgeBatch(jobID: jobID, seq: seq)
        case .resume(let position):
            runner.resume(position)
        case .request(let request):
            requests.handle(request)
        case .error(let code, let text):
            if code == ConnectorRevoked.code {
                flags.withLock { $0.revoked = true }  // said once, in one line, when the channel closes
            } else {
                logger.error("control plane error", metadata: ["code": "\(code)", "message": "\(text)"])
            }
        default:
            logger.debug("ignored message", metadata: ["type": "\(message.type)"])
        }
    }
}

/// The plane revoked the connector's credential: its jobs are stopped and the daemon exits with
/// `exitStatus`, which the systemd unit lists in `RestartPreventExitStatus` (docs/operations).
public struct ConnectorRevoked: Error, CustomStringConvertible {
    public static let code = "revoked"
    public static let exitStatus: Int32 = 77
    public var description: String { "the control plane revoked this connector's credential" }
}
