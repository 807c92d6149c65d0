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
    public var syncTickSeconds: Int = 30

    public init(host: String = "127.0.0.1", port: Int = 8080, dataDir: String = "./devplane-data",
                adminToken: String = "dev-admin-token", orgs: [String] = ["org_dev"], kbs: [Int64] = [1, 42],
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
