@testable import ConnectorDaemon
import Foundation
import Logging
import ServiceLifecycle
import ServiceLifecycleTestKit
import Testing
import WSClient

/// A plane that accepts TCP and never answers the WebSocket upgrade must not hold the connector:
/// the dial ends at its deadline, and SIGTERM ends the daemon's channel within 5 s.
@Suite("Dial deadlines against a silent listener", .serialized)
struct DialDeadlineTests {
    var quiet: Logger {
        var logger = Logger(label: "dial")
        logger.logLevel = .critical
        return logger
    }

    @Test func aDialThatGetsNoUpgradeEndsAtItsDeadline() async throws {
        let listener = try SilentListener()
        let started = Date()
        let logger = quiet
        await #expect(throws: DialDeadline.HandshakeTimeout.self) {
            try await DialDeadline.run(handshakeSeconds: 1, graceSeconds: 1, isWelcomed: { false }) { dial in
                try await PlaneConnection().connect(url: "http://127.0.0.1:\(listener.port)/v1/connect/channel",
                                                    configuration: WebSocketClientConfiguration(), eventLoopGroup: try dial.group,
                                                    logger: logger) { _, _, _ in }
            }
        }
        #expect(Date().timeIntervalSince(started) < 5)
    }

    /// A process starved of CPU can reach its connect after the handshake deadline has shut the
    /// dial's loop down; a connect started then never completed, and the dial hung for good (the
    /// unit run hung this way on two cores). It must end like any timed-out dial.
    @Test(.timeLimit(.minutes(1)))
    func aDialThatReachesItsConnectAfterTheDeadlineEndsToo() async throws {
        let listener = try SilentListener()
        let logger = quiet
        await #expect(throws: DialDeadline.HandshakeTimeout.self) {
            try await DialDeadline.run(handshakeSeconds: 0.2, graceSeconds: 1, isWelcomed: { false }) { dial in
                try await Task.sleep(for: .milliseconds(800))
                try await PlaneConnection().connect(url: "http://127.0.0.1:\(listener.port)/v1/connect/channel",
                                                    configuration: WebSocketClientConfiguration(), eventLoopGroup: try dial.group,
                                                    logger: logger) { _, _, _ in }
            }
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func shutdownEndsTheChannelWithinFiveSecondsWhileTheUpgradeHangs() async throws {
        let listener = try SilentListener()
        let stateDir = NSTemporaryDirectory() + "timbal-dial-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: stateDir) }
        let config = DaemonConfig(controlPlaneURL: "http://127.0.0.1:\(listener.port)", name: "dial", stateDir: stateDir,
                                  heartbeatSeconds: 1, metricsAddress: nil)
        let store = try StateStore(stateDir: stateDir)
        let outbox = Outbox()
        let runner = JobRunner(config: config, store: store, outbox: outbox, logger: quiet)
        let client = ChannelClient(config: config, credential: Credential(connectorID: "conn_x", secret: "cred_x"), store: store,
                                   outbox: outbox, runner: runner, logger: quiet)
        var elapsed = 0.0
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await client.run() }
                // Let the dial reach the upgrade it will never get an answer to.
                try await Task.sleep(for: .seconds(1))
                let stop = Date()
                trigger.triggerGracefulShutdown()
                try await group.waitForAll()
                elapsed = Date().timeIntervalSince(stop)
            }
        }
        #expect(elapsed < 5, "the channel took \(elapsed) s to end after SIGTERM")
    }
}
