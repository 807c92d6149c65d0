import ConnectorCore
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// `config.json` of the daemon. Every key is optional except `control_plane_url`; see docs/configuration.md.
public struct DaemonConfig: Sendable {
    /// Base URL of the control plane, e.g. `https://platform.timbal.ai` or `http://127.0.0.1:8080`.
    public var controlPlaneURL: String
    /// Name shown on the platform (default: the name given at enrollment, else the host name).
    public var name: String
    /// Where the credential, the state DB and local KBs live.
    public var stateDir: String
    /// Path of `connections.json` (relative paths are relative to the config file).
    public var connectionsPath: String
    /// Jobs that run at once; more wait their turn.
    public var maxConcurrentJobs: Int
    /// Seconds between heartbeats on the channel.
    public var heartbeatSeconds: Int
    /// Hosted batches sent but not yet acknowledged, at most.
    public var hostedWindow: Int
    /// Seconds between a job's progress lines in the log.
    public var progressLogSeconds: Double
    /// Loopback address of `/healthz`, `/readyz` and `/metrics`; nil disables the endpoint.
    public var metricsAddress: String?

    /// Where a map pushed by the control plane is kept (the config dir is read-only under systemd).
    public var pushedConnectionsPath: String { stateDir + "/connections.pushed.json" }

    /// The connections in force: a pushed map once there is one, else the configured file.
    public var effectiveConnectionsPath: String {
        access(pushedConnectionsPath, F_OK) == 0 ? pushedConnectionsPath : connectionsPath
    }

    /// Whether config.json names the connector (else the enrollment's name is used).
    public var nameIsConfigured = false

    /// TLS trust and proxy for the channel and enrollment (`ca_file`, `proxy`).
    public var planeConnection = PlaneConnection()

    /// Keys of config.json the loader does not know (a typo keeps a default silently otherwise):
    /// warnings, each naming the key and the nearest known one. Logged at start, not fatal.
    public var warnings: [String] = []

    // Defaults, written once: the initializer and config.json's loader both use them.
    public static let defaultStateDir = "/var/lib/timbal-connector"
    public static let defaultConnectionsFile = "connections.json"
    public static let defaultMaxConcurrentJobs = 2
    public static let defaultHeartbeatSeconds = 10
    public static let defaultHostedWindow = 4
    public static let defaultProgressLogSeconds = 10
    public static let defaultMetricsAddress = "127.0.0.1:9464"
    public static let knownKeys = ["control_plane_url", "name", "state_dir", "connections", "max_concurrent_jobs",
                                   "heartbeat_s", "hosted_window", "progress_log_s", "metrics_address", "ca_file", "proxy"]

    public init(controlPlaneURL: String, name: String = DaemonConfig.hostName(), stateDir: String = DaemonConfig.defaultStateDir,
                connectionsPath: String = defaultConnectionsFile, maxConcurrentJobs: Int = defaultMaxConcurrentJobs,
                heartbeatSeconds: Int = defaultHeartbeatSeconds, hostedWindow: Int = defaultHostedWindow,
                progressLogSeconds: Double = Double(defaultProgressLogSeconds), metricsAddress: String? = defaultMetricsAddress) {
        self.controlPlaneURL = controlPlaneURL
        self.name = name
        self.stateDir = stateDir
        self.connectionsPath = connectionsPath
        self.maxConcurrentJobs = maxConcurrentJobs
        self.heartbeatSeconds = heartbeatSeconds
        self.hostedWindow = hostedWindow
        self.progressLogSeconds = progressLogSeconds
        self.metricsAddress = metricsAddress
    }

    public static func load(path: String) throws -> DaemonConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(file: path, key: "", problem: "cannot read the file (missing or not readable)")
        }
        let document: JSONValue
        do { document = try JSONParser.parse(Array(data)) } catch {
            throw ConfigError(file: path, key: "", problem: "\(error)")
        }
        guard case .object = document else { throw ConfigError(file: path, key: "", problem: "expected an object") }
        func string(_ key: String) throws -> String? {
            guard let value = document[key], value != .null else { return nil }
            guard case .string(let text) = value, !text.isEmpty else { throw ConfigError(file: path, key: key, problem: "expected a non-empty string") }
            return text
        }
        func integer(_ key: String, _ fallback: Int, min: Int) throws -> Int {
            guard let value = document[key], value != .null else { return fallback }
            guard case .number(let text) = value, let number = Int(text), number >= min else {
                throw ConfigError(file: path, key: key, problem: "expected a whole number >= \(min)")
            }
            return number
        }
        guard let url = try string("control_plane_url") else { throw ConfigError(file: path, key: "control_plane_url", problem: "is required") }
        guard url.hasPrefix("http://") || url.hasPrefix("https://") || url.hasPrefix("ws://") || url.hasPrefix("wss://") else {
            throw ConfigError(file: path, key: "control_plane_url", problem: "expected an http(s):// or ws(s):// URL, got \"\(url)\"")
        }
        if let scheme = ["http://", "ws://"].first(where: { url.hasPrefix($0) }) {
            let authority = url.dropFirst(scheme.count).prefix { $0 != "/" && $0 != "?" }
            let host = authority.hasPrefix("[") ? String(authority.prefix { $0 != "]" }.dropFirst())
                : String(authority.prefix { $0 != ":" })
            guard host == "localhost" || host == "::1" || host.hasPrefix("127.") else {
                throw ConfigError(file: path, key: "control_plane_url",
                                  problem: "plain \(scheme) is allowed for a loopback development plane only; \"\(host)\" would see the credential in clear: use https://")
            }
        }
        if let address = try string("metrics_address"), HealthServer.loopback(address) == nil {
            throw ConfigError(file: path, key: "metrics_address", problem: "expected a loopback IPv4 address and a port like 127.0.0.1:9464, got \"\(address)\"")
        }
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        var connections = try string("connections") ?? defaultConnectionsFile
        if !connections.hasPrefix("/") { connections = directory + "/" + connections }
        let configuredName = try string("name")
        var config = DaemonConfig(
            controlPlaneURL: url, name: configuredName ?? hostName(), stateDir: try string("state_dir") ?? defaultStateDir,
            connectionsPath: connections, maxConcurrentJobs: try integer("max_concurrent_jobs", defaultMaxConcurrentJobs, min: 1),
            heartbeatSeconds: try integer("heartbeat_s", defaultHeartbeatSeconds, min: 1),
            hostedWindow: try integer("hosted_window", defaultHostedWindow, min: 1),
            progressLogSeconds: Double(try integer("progress_log_s", defaultProgressLogSeconds, min: 1)),
            metricsAddress: document["metrics_address"] == .null ? nil : try string("metrics_address") ?? defaultMetricsAddress)
        config.nameIsConfigured = configuredName != nil
        if let caFile = try string("ca_file") {
            let resolved = caFile.hasPrefix("/") ? caFile : directory + "/" + caFile
            guard FileManager.default.isReadableFile(atPath: resolved) else {
                throw ConfigError(file: path, key: "ca_file", problem: "cannot read \(resolved)")
            }
            config.planeConnection.caFile = resolved
        }
        if let proxy = try string("proxy") {
            guard PlaneConnection.parseProxy(proxy) != nil else {
                throw ConfigError(file: path, key: "proxy", problem: "expected http://host:port, got \"\(proxy)\"")
            }
            config.planeConnection.proxy = proxy
        }
        if case .object(let members) = document {
            config.warnings = members.map(\.0).filter { !knownKeys.contains($0) }.map { key in
                "\(path): unknown key \"\(key)\" ignored" + (nearestKey(to: key, among: knownKeys).map { " (did you mean \"\($0)\"?)" } ?? "")
            }
        }
        return config
    }

    public static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The channel URL: the base URL with ws(s) and `/v1/connect/<path>`.
    public func channelURL(_ path: String = "channel") -> String {
        var base = controlPlaneURL
        if base.hasPrefix("http://") { base = "ws://" + base.dropFirst(7) }
        if base.hasPrefix("https://") { base = "wss://" + base.dropFirst(8) }
        while base.hasSuffix("/") { base.removeLast() }
        return base + "/v1/connect/" + path
    }
}
