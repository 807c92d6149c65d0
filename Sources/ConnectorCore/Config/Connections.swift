import FoundationEssentials

/// One entry of `connections.json`. The DSN is a secret: it is never logged, sent or printed.
public struct ConnectionSettings: Sendable {
    public var name: String
    public var kind: String
    /// Passed to libpq as is: a URI, `key=value` pairs or `service=NAME`.
    public var dsn: String
    /// Timeouts applied to every source session, in milliseconds (0 disables one).
    public var statementTimeoutMs: Int
    public var lockTimeoutMs: Int
    public var idleInTransactionTimeoutMs: Int
    public var connectTimeoutSeconds: Int

    public static let defaultStatementTimeoutMs = 60_000
    public static let defaultLockTimeoutMs = 5_000
    public static let defaultIdleInTransactionTimeoutMs = 60_000
    public static let defaultConnectTimeoutSeconds = 10

    public init(name: String, kind: String = "postgres", dsn: String,
                statementTimeoutMs: Int = defaultStatementTimeoutMs,
                lockTimeoutMs: Int = defaultLockTimeoutMs,
                idleInTransactionTimeoutMs: Int = defaultIdleInTransactionTimeoutMs,
                connectTimeoutSeconds: Int = defaultConnectTimeoutSeconds) {
        self.name = name
        self.kind = kind
        self.dsn = dsn
        self.statementTimeoutMs = statementTimeoutMs
        self.lockTimeoutMs = lockTimeoutMs
        self.idleInTransactionTimeoutMs = idleInTransactionTimeoutMs
        self.connectTimeoutSeconds = connectTimeoutSeconds
    }
}

/// A problem with `connections.json`: names the file, the key and the problem, never the DSN.
public struct ConnectionsError: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let key: String
    public let problem: String
    public var description: String { key.isEmpty ? "\(file): \(problem)" : "\(file): \(key): \(problem)" }
}

/// The parsed `connections.json`: connection name -> settings.
public struct Connections: Sendable {
    public let file: String
    public let entries: [String: ConnectionSettings]

    public init(file: String, entries: [String: ConnectionSettings]) {
        self.file = file
        self.entries = entries
    }

    public static func load(path: String) throws -> Connections {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConnectionsError(file: path, key: "", problem: "cannot read the file (missing or not readable)")
        }
        return try parse(Array(data), file: path)
    }

    public static func parse(_ bytes: [UInt8], file: String) throws -> Connections {
        let document: JSONValue
        do { document = try JSONParser.parse(bytes) } catch {
            throw ConnectionsError(file: file, key: "", problem: "\(error)")
        }
        guard case .object(let members) = document else {
            throw ConnectionsError(file: file, key: "", problem: "expected an object mapping names to connections")
        }
        var entries: [String: ConnectionSettings] = [:]
        for (name, value) in members {
            entries[name] = try parseEntry(name: name, value: value, file: file)
        }
        return Connections(file: file, entries: entries)
    }

    private static func parseEntry(name: String, value: JSONValue, file: String) throws -> ConnectionSettings {
        func fail(_ key: String, _ problem: String) -> ConnectionsError {
            ConnectionsError(file: file, key: key.isEmpty ? name : "\(name).\(key)", problem: problem)
        }
        guard case .object = value else { throw fail("", "expected an object, got \(value.typeName)") }
        func string(_ key: String) throws -> String? {
            guard let member = value[key], member != .null else { return nil }
            guard case .string(let text) = member else { throw fail(key, "expected a string, got \(member.typeName)") }
            return text
        }
        func milliseconds(_ key: String, _ fallback: Int) throws -> Int {
            guard let member = value[key], member != .null else { return fallback }
            guard case .number(let text) = member, let number = Int(text), number >= 0 else {
                throw fail(key, "expected a whole number >= 0")
            }
            return number
        }
        let kind = try string("kind") ?? "postgres"
        guard kind == "postgres" else { throw fail("kind", "\"\(kind)\" is not supported (only postgres)") }
        guard let dsn = try string("dsn"), !dsn.isEmpty else { throw fail("dsn", "is required") }
        return ConnectionSettings(
            name: name, kind: kind, dsn: dsn,
            statementTimeoutMs: try milliseconds("statement_timeout_ms", ConnectionSettings.defaultStatementTimeoutMs),
            lockTimeoutMs: try milliseconds("lock_timeout_ms", ConnectionSettings.defaultLockTimeoutMs),
            idleInTransactionTimeoutMs: try milliseconds("idle_in_transaction_timeout_ms", ConnectionSettings.defaultIdleInTransactionTimeoutMs),
            connectTimeoutSeconds: try milliseconds("connect_timeout_s", ConnectionSettings.defaultConnectTimeoutSeconds))
    }

    /// The settings for `ref`, or an error naming the ref and the file.
    public func settings(for ref: String) throws -> ConnectionSettings {
        guard let settings = entries[ref] else {
            let known = entries.keys.sorted().map { "\"\($0)\"" }.joined(separator: ", ")
            throw JobSpecError(
                field: "source.connection_ref",
                problem: "\"\(ref)\" is not defined in \(file)" + (known.isEmpty ? " (it defines none)" : " (it defines \(known))"))
        }
        return settings
    }
}
