import ConnectorCore
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// The connector's long-lived credential, stored as `<state-dir>/credential.json` with mode 0600.
public struct Credential: Sendable {
    public var connectorID: String
    public var secret: String

    public init(connectorID: String, secret: String) {
        self.connectorID = connectorID
        self.secret = secret
    }

    public static func path(stateDir: String) -> String { stateDir + "/credential.json" }

    public func save(stateDir: String) throws {
        do { try PrivateDirectory.create(stateDir) } catch { throw ConfigError(file: stateDir, key: "", problem: "\(error)") }
        let path = Self.path(stateDir: stateDir)
        let text = JSONValue.object([("connector_id", .string(connectorID)), ("credential", .string(secret))]).serialized()
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
        return Credential(connectorID: id, secret: secret)
    }
}
