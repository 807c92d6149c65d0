/// How `timbal-devplane` runs; every field has a default good for one machine.
public struct DevPlaneConfig: Sendable {
    public var host: String
    public var port: Int
    /// Where the plane keeps `plane.sqlite` and the hosted KBs (`kb/<kb_id>.sqlite`).
    public var dataDir: String
    /// The bearer token of the platform routes (`Authorization: Bearer <token>`).
    public var adminToken: String
    /// Organisations the plane serves.
    public var orgs: [String]
    /// Knowledge bases that exist (a job for another kb_id gets 404).
    public var kbs: [Int64]
    /// Seconds without a heartbeat after which a connected connector is no longer `online`.
    public var onlineWindowSeconds: Double
    /// PEM certificate chain and private key: set both to serve HTTPS/WSS, as the real plane does.
    public var tlsCertificate: String? = nil
    public var tlsKey: String? = nil
    /// Seconds between two looks of the sync scheduler at which syncs are due (the platform: 30).
    public var syncTickSeconds: Int = defaultSyncTickSeconds
    /// Largest a hosted KB file may grow; a batch past it is refused and its job fails.
    public var maxKBBytes: Int64 = defaultMaxKBBytes

    // Defaults, written once: the initializer and the command's options both use them.
    public static let defaultHost = "127.0.0.1"
    public static let defaultPort = 8080
    public static let defaultDataDir = "./devplane-data"
    public static let defaultAdminToken = "dev-admin-token"
    public static let defaultOrgs = ["org_dev"]
    public static let defaultKBs: [Int64] = [1, 42]
    public static let defaultSyncTickSeconds = 30
    public static let defaultMaxKBBytes: Int64 = 8 << 30

    public init(host: String = defaultHost, port: Int = defaultPort, dataDir: String = defaultDataDir,
                adminToken: String = defaultAdminToken, orgs: [String] = defaultOrgs, kbs: [Int64] = defaultKBs,
                onlineWindowSeconds: Double = 30) {
        self.host = host
        self.port = port
        self.dataDir = dataDir
        self.adminToken = adminToken
        self.orgs = orgs
        self.kbs = kbs
        self.onlineWindowSeconds = onlineWindowSeconds
    }
}
