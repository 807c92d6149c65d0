import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOSSL
import HummingbirdWebSocket
import Logging
import NIOCore
import ServiceLifecycle

/// The development control plane: the platform's job routes, the connector channel and hosted KBs,
/// on one machine, for tests, the demo and local development.
public enum DevPlane {
    /// Builds the application; `onRunning` receives the bound port (useful with port 0).
    public static func application(config: DevPlaneConfig, logger: Logger,
                                   onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) throws -> some ApplicationProtocol {
        let store = try PlaneStore(dataDir: config.dataDir)
        let hostedKBs = try HostedKBs(dataDir: config.dataDir, servedKBs: config.kbs, maxKBBytes: config.maxKBBytes, isJobOpen: { id in (try? store.isJobOpen(id: id)) ?? true })
        let hub = ConnectorHub()
        let channel = ChannelEndpoint(store: store, hostedKBs: hostedKBs, hub: hub, logger: logger)
        let router = Router(context: BasicWebSocketRequestContext.self)
        let syncs = try SyncScheduler(store: store, hub: hub, channel: channel, tickSeconds: config.syncTickSeconds, logger: logger)
        SyncRoutes(config: config, store: store, hostedKBs: hostedKBs, scheduler: syncs).register(on: router)
        PlaneRoutes(config: config, store: store, hostedKBs: hostedKBs, hub: hub, channel: channel, logger: logger).register(on: router)
        router.ws("/v1/connect/channel") { inbound, outbound, context in
            try await channel.channel(request: context.request, inbound: inbound, outbound: outbound)
        }
        router.ws("/v1/connect/enroll") { inbound, outbound, context in
            try await channel.enroll(request: context.request, inbound: inbound, outbound: outbound)
        }
        // A connector silent for two ping periods (stopped, or a dead link) is disconnected.
        let plain = HTTPServerBuilder.http1WebSocketUpgrade(webSocketRouter: router, configuration: .init(
            maxFrameSize: ChannelEndpoint.maxMessageBytes, autoPing: .enabled(timePeriod: .seconds(10)), closeTimeout: .seconds(5)))
        var server = plain
        if let certificate = config.tlsCertificate, let key = config.tlsKey {
            let tls = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
            server = try .tls(plain, tlsConfiguration: tls)
        }
        return Application(
            router: router,
            server: server,
            configuration: .init(address: .hostname(config.host, port: config.port), serverName: "timbal-devplane"),
            services: [syncs],
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? config.port) },
            logger: logger)
    }
}
