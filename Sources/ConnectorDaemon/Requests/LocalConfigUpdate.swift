import ConnectorCore
import PostgresClient
#if canImport(Glibc)
import Glibc
#endif

/// A pushed `connections` map: validated as connections.json is, then written atomically (0600)
/// to `<state-dir>/connections.pushed.json`, which from then on replaces the configured file (the
/// config dir is read-only under systemd; `run` and `check` say which file is in force). Jobs and
/// requests read the map when they start, so it applies to the next job without dropping the
/// channel or touching running jobs. Nothing of a DSN is answered.
enum LocalConfigUpdate {
    static func apply(_ params: JSONValue, writingTo path: String) throws -> JSONValue {
        guard let map = params["connections"], map != .null else {
            // Only `filesystems` (not built by this connector) or nothing: the connections stay as they are.
            return .object([("applied", .bool(false)), ("connections", .bool(false))])
        }
        let bytes = Array(map.serialized().utf8) + [UInt8(ascii: "\n")]
        let parsed: Connections
        do {
            parsed = try Connections.parse(bytes, file: "pushed connections")
        } catch let error as ConfigError {
            throw RequestError(.invalid, "connections: \(error.key.isEmpty ? "" : error.key + ": ")\(error.problem)")
        }
        // A DSN libpq cannot parse would fail every job on it: the push is refused, the old map kept.
        for name in parsed.entries.keys.sorted() {
            if let problem = ConninfoSecrets.parseProblem(parsed.entries[name]!.dsn) {
                throw RequestError(.invalid, "connections: \(name).dsn: libpq cannot parse it (\(problem)); the previous map is kept")
            }
        }
        try writeAtomically(bytes, to: path)
        return .object([("applied", .bool(true)), ("connections", .array(parsed.entries.keys.sorted().map(JSONValue.string))),
                        ("warnings", .array(parsed.warnings.map(JSONValue.string)))])
    }

    /// A temporary file beside the target, fsynced, renamed over it, and the directory fsynced.
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let temporary = "\(path).tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw RequestError(.invalid, "connections: cannot write beside \(path) (\(String(cString: strerror(errno)))); the connector's user needs write access to \(directory)")
        }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == bytes.count, synced, rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw RequestError(.invalid, "connections: cannot replace \(path) (\(reason)); the previous map is kept")
        }
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 { fsync(directoryFD); close(directoryFD) }
    }
}
