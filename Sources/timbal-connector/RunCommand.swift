import ArgumentParser
import ConnectorCore
import ConnectorDaemon
import Logging
import Metrics
import Prometheus
import ServiceLifecycle

/// `timbal-connector run`: the daemon. Holds the channel to the control plane and runs its jobs.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the connector daemon (channel to the control plane, dispatched jobs).",
        discussion: """
        Reads config.json and connections.json, dials the control plane with
        the credential from `enroll`, and runs the jobs it dispatches.
        SIGTERM: take no new jobs, let each running job land its current batch
        and checkpoint, close the channel, exit 0.

        Example:
          timbal-connector run --config /etc/timbal-connector/config.json
        """)

    @OptionGroup var configFile: ConfigFileOption
    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        let logger = logging.bootstrap()
        var daemon: DaemonConfig
        let credential: Credential
        let store: StateStore
        var daemonLock: FileLock?
        do {
            daemon = try DaemonConfig.load(path: configFile.config)
            let connections = try Connections.load(path: daemon.effectiveConnectionsPath)
            for warning in daemon.warnings + connections.warnings { logger.warning("\(warning)") }
            if daemon.effectiveConnectionsPath != daemon.connectionsPath {
                logger.notice("connections: using the map the control plane pushed (delete it to return to the configured file)",
                              metadata: ["file": "\(daemon.effectiveConnectionsPath)", "instead_of": "\(daemon.connectionsPath)"])
            }
            credential = try Credential.load(stateDir: daemon.stateDir)
            if !daemon.nameIsConfigured, let enrolledName = credential.name { daemon.name = enrolledName }
            if Credential.isRevoked(stateDir: daemon.stateDir) {
                logger.critical("this connector was revoked by the control plane: not starting (status \(ConnectorRevoked.exitStatus)); enroll again to reconnect",
                                metadata: ["marker": "\(Credential.revokedMarker(stateDir: daemon.stateDir))"])
                throw ExitCode(ConnectorRevoked.exitStatus)
            }
            store = try StateStore(stateDir: daemon.stateDir)
            // One daemon per state dir: a second one would fight the first for the channel and its jobs.
            switch try FileLock.acquire(path: daemon.stateDir + "/daemon.lock", holder: "timbal-connector run") {
            case .success(let lock): daemonLock = lock
            case .failure(let held):
                throw ConfigError(file: daemon.stateDir, key: "", problem: "another daemon already runs on this state dir (\(held.line)); stop it first")
            }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            printError("error: \(error)")
            throw ExitCode.failure
        }
        let outbox = Outbox()
        let runner = JobRunner(config: daemon, store: store, outbox: outbox, logger: logger)
        let liveness = Liveness()
        let channel = ChannelClient(config: daemon, credential: credential, store: store, outbox: outbox, runner: runner, logger: logger,
                                    liveness: liveness)
        runner.startLivenessProbe(liveness)
        try runner.resumeUnfinished()
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: channel)]
        if let address = daemon.metricsAddress {
            do {
                services.append(.init(service: try HealthServer(address: address, registry: registry, logger: logger) { channel.isUp }))
            } catch {
                printError("error: \(configFile.config): \(error)")
                throw ExitCode.failure
            }
        }
        // The watchdog is fed while the channel's loops and the job runner are alive; a part silent
        // for three heartbeats (at least 90 s) stops the pings and systemd restarts the daemon.
        let staleAfter = max(90, 3 * Double(daemon.heartbeatSeconds))
        let systemd = SystemdNotifier(logger: logger) {
            let stale = liveness.stale(after: staleAfter)
            if !stale.isEmpty { logger.error("not feeding the systemd watchdog: stuck", metadata: ["parts": "\(stale.joined(separator: ","))"]) }
            return stale.isEmpty
        }
        // Config loaded and the state DB open: systemd may consider the service started.
        systemd.notify("READY=1\nSTATUS=connecting to \(daemon.controlPlaneURL)")
        logger.info("connector started", metadata: [
            "connector.id": "\(credential.connectorID)", "name": "\(daemon.name)", "version": "\(SystemInfo.version)",
            "max_concurrent_jobs": "\(daemon.maxConcurrentJobs)"])
        // Shutdown runs in reverse: jobs drain first (batches land, hosted ones are acknowledged), then the channel closes.
        let group = ServiceGroup(configuration: .init(
            services: services + [.init(service: JobDrainService(runner: runner, logger: logger)), .init(service: systemd)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch is ConnectorRevoked {
            throw ExitCode(ConnectorRevoked.exitStatus)
        }
        logger.info("connector stopped")
        daemonLock?.release()
    }
}
