import ConnectorCore
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// The connector's long-lived credential, stored as `<state-dir>/credential.json` with mode 0600.
public struct Credential: Sendable {
    public var connectorID: String
    public var secret: String
    /// The name given at enrollment (`enroll --name`): the daemon's name unless config.json sets one.
    public var name: String?

    public init(connectorID: String, secret: String, name: String? = nil) {
        self.connectorID = connectorID
        self.secret = secret
        self.name = name
    }

    public static func path(stateDir: String) -> String { stateDir + "/credential.json" }

    /// Left by a revocation: the daemon then exits at start (77) even when the plane is not
    /// reachable to say so again. A new enrollment removes it.
    public static func revokedMarker(stateDir: String) -> String { stateDir + "/revoked" }

    public static func isRevoked(stateDir: String) -> Bool { access(revokedMarker(stateDir: stateDir), F_OK) == 0 }

    public static func markRevoked(stateDir: String) {
        let fd = open(revokedMarker(stateDir: stateDir), O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        if fd >= 0 { close(fd) }
    }

    public func save(stateDir: String) throws {
        do { try PrivateDirectory.create(stateDir) } catch { throw ConfigError(file: stateDir, key: "", problem: "\(error)") }
        let path = Self.path(stateDir: stateDir)
        var members: [(String, JSONValue)] = [("connector_id", .string(connectorID)), ("credential", .string(secret))]
        if let name { members.append(("name", .string(name))) }
        let text = JSONValue.object(members).serialized()
        // Created 0600 from the start: the secret is never readable by others, even for an instant.
        let fd = open(path + ".tmp", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw ConfigError(file: path, key: "", problem: "cannot write (errno \(errno))") }
        var bytes = Array(text.utf8)
        let written = write(fd, &bytes, bytes.count)
        fsync(fd)
        close(fd)
        guard written == bytes.count, rename(path + ".tmp", path) == 0 else {
            throw ConfigError(file: path, key: "", problem: "cannot write (errno \(errno))")
        }
        chmod(path, 0o600)
        unlink(Self.revokedMarker(stateDir: stateDir))
    }

    public static func load(stateDir: String) throws -> Credential {
        let path = path(stateDir: stateDir)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(file: path, key: "", problem: "no credential: enroll first with `timbal-connector enroll --url URL --token TOKEN`")
        }
        let document: JSONValue
        do { document = try JSONParser.parse(Array(data)) } catch {
            throw ConfigError(file: path, key: "", problem: "\(error); enroll again to replace it")
        }
        guard case .string(let id)? = document["connector_id"], case .string(let secret)? = document["credential"] else {
            throw ConfigError(file: path, key: "credential", problem: "is missing")
        }
        var name: String?
        if case .string(let text)? = document["name"] { name = text }
        return Credential(connectorID: id, secret: secret, name: name)
    }
}
