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
    /// Incremental runs of time cursors reach back this far before the last checkpoint (0 = none).
    public var cursorLookbackSeconds: Int = 0
    /// Incremental runs of integer or numeric cursors reach back this many cursor units (0 = none).
    public var cursorLookbackValues: Int64 = 0
    /// A batch holds at most about this many bytes of cells, whatever `batch_rows` says.
    public var batchBytes: Int = ConnectionSettings.defaultBatchBytes
    /// Longest a segment holds one snapshot (and so holds back vacuum), in seconds.
    public var maxSnapshotSeconds: Double = Double(ConnectionSettings.defaultMaxSnapshotSeconds)
    /// Schemas the control plane may read through this connection (empty = any the role can read).
    public var allowedSchemas: [String]
    /// Tables the control plane may read, as `schema.table` or `schema.*` (empty = any).
    public var allowedTables: [String]
    /// What ad-hoc queries (`query:sql`) may do through this connection: `read` (default) or `write`.
    public var queryPolicy: QueryMode = .read
    /// How a run that reads a whole table does it: `by_key` (default: a first load in key order,
    /// then a cursor catch-up, where the table allows it) or `by_cursor` (cursor order throughout,
    /// rows reaching the KB in cursor order). See docs/extraction.md, "Reading in any order".
    public var firstLoadByKey = true

    public static let defaultStatementTimeoutMs = 60_000
    public static let defaultLockTimeoutMs = 5_000
    public static let defaultIdleInTransactionTimeoutMs = 60_000
    public static let defaultConnectTimeoutSeconds = 10
    public static let defaultMaxSnapshotSeconds = 30
    public static let defaultBatchBytes = 16 << 20
    /// Client-side margin on top of the statement timeout before a silent server is given up on.
    public static let clientDeadlineMarginSeconds = 5.0
    /// The client-side deadline when the statement timeout is off.
    public static let clientDeadlineWithoutTimeoutSeconds = 600.0

    /// Seconds without a byte from the server before a command is abandoned.
    public var clientIdleDeadlineSeconds: Double {
        statementTimeoutMs > 0 ? Double(statementTimeoutMs) / 1000 + Self.clientDeadlineMarginSeconds
            : Self.clientDeadlineWithoutTimeoutSeconds
    }

    public init(name: String, kind: String = "postgres", dsn: String,
                statementTimeoutMs: Int = defaultStatementTimeoutMs,
                lockTimeoutMs: Int = defaultLockTimeoutMs,
                idleInTransactionTimeoutMs: Int = defaultIdleInTransactionTimeoutMs,
                connectTimeoutSeconds: Int = defaultConnectTimeoutSeconds,
                allowedSchemas: [String] = [], allowedTables: [String] = []) {
        self.name = name
        self.kind = kind
        self.dsn = dsn
        self.statementTimeoutMs = statementTimeoutMs
        self.lockTimeoutMs = lockTimeoutMs
        self.idleInTransactionTimeoutMs = idleInTransactionTimeoutMs
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.allowedSchemas = allowedSchemas
        self.allowedTables = allowedTables
    }

    /// Whether this connection's allow-list lets jobs and browsing read `schema.table`. The
    /// system catalogs (`pg_catalog`, `information_schema`, `pg_toast`, temporary schemas) are
    /// never read unless the allow-list names them: they hold password hashes and settings.
    public func allows(schema: String, table: String) -> Bool {
        let named = allowedSchemas.contains(schema) || allowedTables.contains("\(schema).\(table)")
            || allowedTables.contains("\(schema).*")
        if Self.isSystemSchema(schema) { return named }
        if allowedSchemas.isEmpty && allowedTables.isEmpty { return true }
        return named
    }

    /// Schemas that belong to Postgres itself rather than to the application.
    public static func isSystemSchema(_ schema: String) -> Bool {
        schema == "pg_catalog" || schema == "information_schema" || schema.hasPrefix("pg_toast") || schema.hasPrefix("pg_temp_")
    }

    /// Fails a job that reads outside the allow-list, naming what is allowed.
    public func checkAllowed(schema: String, table: String, file: String) throws {
        guard !allows(schema: schema, table: table) else { return }
        if Self.isSystemSchema(schema) {
            throw JobSpecError(field: "source.schema",
                               problem: "\(schema) is a system schema: connection \"\(name)\" in \(file) must name it in allow.schemas to read it")
        }
        let allowed = (allowedSchemas.map { "\($0).*" } + allowedTables).joined(separator: ", ")
        throw JobSpecError(field: "source.table",
                           problem: "\(schema).\(table) is not allowed by connection \"\(name)\" in \(file) (it allows \(allowed))")
    }
}

/// What an ad-hoc query may do: `read` runs in a read-only transaction; `write` also needs the
/// connection's `"query": "write"`.
public enum QueryMode: String, Sendable, CaseIterable {
    case read, write
}

/// The parsed `connections.json`: connection name -> settings.
public struct Connections: Sendable {
    public let file: String
    public let entries: [String: ConnectionSettings]
    /// Unknown keys in entries, each named with the nearest known one: logged, not fatal.
    public var warnings: [String] = []

    public static let knownKeys = ["kind", "dsn", "dsn_file", "dsn_env", "statement_timeout_ms", "lock_timeout_ms",
                                   "idle_in_transaction_timeout_ms", "connect_timeout_s", "max_snapshot_s",
                                   "cursor_lookback_s", "cursor_lookback_values", "batch_bytes", "allow", "query", "first_load"]

    public init(file: String, entries: [String: ConnectionSettings]) {
        self.file = file
        self.entries = entries
    }

    public static func load(path: String) throws -> Connections {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(file: path, key: "", problem: "cannot read the file (missing or not readable)")
        }
        return try parse(Array(data), file: path)
    }

    public static func parse(_ bytes: [UInt8], file: String) throws -> Connections {
        let document: JSONValue
        do { document = try JSONParser.parse(bytes) } catch {
            throw ConfigError(file: file, key: "", problem: "\(error)")
        }
        guard case .object(let members) = document else {
            throw ConfigError(file: file, key: "", problem: "expected an object mapping names to connections")
        }
        // Every name and value reaches libpq or a file as a C string: a NUL would cut it short.
        if let path = nulPath(document, at: "") {
            throw ConfigError(file: file, key: path, problem: "must not contain a NUL character")
        }
        var entries: [String: ConnectionSettings] = [:]
        var warnings: [String] = []
        for (name, value) in members {
            entries[name] = try parseEntry(name: name, value: value, file: file)
            if case .object(let keys) = value {
                for (key, _) in keys where !knownKeys.contains(key) {
                    warnings.append("\(file): \(name).\(key): unknown key ignored"
                                    + (nearestKey(to: key, among: knownKeys).map { " (did you mean \"\($0)\"?)" } ?? ""))
                }
            }
        }
        var connections = Connections(file: file, entries: entries)
        connections.warnings = warnings
        return connections
    }

    private static func parseEntry(name: String, value: JSONValue, file: String) throws -> ConnectionSettings {
        func fail(_ key: String, _ problem: String) -> ConfigError {
            ConfigError(file: file, key: key.isEmpty ? name : "\(name).\(key)", problem: problem)
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
        var queryPolicy = QueryMode.read
        if let policy = try string("query") {
            guard let mode = QueryMode(rawValue: policy) else { throw fail("query", "is not one of read, write (the value is not shown: it may be a secret)") }
            queryPolicy = mode
        }
        let kind = try string("kind") ?? "postgres"
        guard kind == "postgres" else { throw fail("kind", "only postgres is supported (the value is not shown: it may be a secret)") }
        let dsn = try resolveDSN(string("dsn"), file: string("dsn_file"), env: string("dsn_env"), fail: fail)
        var schemas: [String] = [], tables: [String] = []
        if let allow = value["allow"], allow != .null {
            guard case .object = allow else { throw fail("allow", "expected an object with \"schemas\" and/or \"tables\"") }
            func names(_ key: String) throws -> [String] {
                guard let list = allow[key], list != .null else { return [] }
                guard case .array(let items) = list else { throw fail("allow.\(key)", "expected an array of strings") }
                return try items.map {
                    guard case .string(let text) = $0, !text.isEmpty else { throw fail("allow.\(key)", "expected non-empty strings") }
                    return text
                }
            }
            schemas = try names("schemas")
            tables = try names("tables")
            if let bad = tables.first(where: { !$0.contains(".") }) {
                throw fail("allow.tables", "\"\(bad)\" should be schema.table or schema.*")
            }
        }
        var settings = ConnectionSettings(
            name: name, kind: kind, dsn: dsn,
            statementTimeoutMs: try milliseconds("statement_timeout_ms", ConnectionSettings.defaultStatementTimeoutMs),
            lockTimeoutMs: try milliseconds("lock_timeout_ms", ConnectionSettings.defaultLockTimeoutMs),
            idleInTransactionTimeoutMs: try milliseconds("idle_in_transaction_timeout_ms", ConnectionSettings.defaultIdleInTransactionTimeoutMs),
            connectTimeoutSeconds: try milliseconds("connect_timeout_s", ConnectionSettings.defaultConnectTimeoutSeconds),
            allowedSchemas: schemas, allowedTables: tables)
        settings.cursorLookbackSeconds = try milliseconds("cursor_lookback_s", 0)
        settings.cursorLookbackValues = Int64(try milliseconds("cursor_lookback_values", 0))
        let snapshot = try milliseconds("max_snapshot_s", ConnectionSettings.defaultMaxSnapshotSeconds)
        guard snapshot > 0 else { throw fail("max_snapshot_s", "expected a whole number >= 1") }
        settings.maxSnapshotSeconds = Double(snapshot)
        let batchBytes = try milliseconds("batch_bytes", ConnectionSettings.defaultBatchBytes)
        guard batchBytes >= 65_536 else { throw fail("batch_bytes", "expected a whole number >= 65536") }
        settings.batchBytes = batchBytes
        settings.queryPolicy = queryPolicy
        switch try string("first_load") {
        case nil, "by_key"?: settings.firstLoadByKey = true
        case "by_cursor"?: settings.firstLoadByKey = false
        case _?: throw fail("first_load", "is not one of by_key, by_cursor (the value is not shown: it may be a secret)")
        }
        return settings
    }

    /// The DSN from exactly one of `dsn`, `dsn_file` (a file holding it, e.g. a systemd credential)
    /// or `dsn_env` (an environment variable), so the secret need not sit in connections.json.
    private static func resolveDSN(_ inline: String?, file: String?, env: String?,
                                   fail: (String, String) -> ConfigError) throws -> String {
        let given = [inline, file, env].compactMap { $0 }
        guard given.count == 1 else {
            throw fail(given.isEmpty ? "dsn" : "dsn", given.isEmpty ? "is required (or dsn_file, or dsn_env)" : "give only one of dsn, dsn_file, dsn_env")
        }
        if let inline {
            guard !inline.isEmpty else { throw fail("dsn", "is required") }
            return inline
        }
        if let file {
            guard let data = FileManager.default.contents(atPath: file) else { throw fail("dsn_file", "cannot read \(shown(file))") }
            let text = String(String(decoding: data, as: UTF8.self).drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
            guard !text.isEmpty else { throw fail("dsn_file", "\(shown(file)) is empty") }
            return text
        }
        let name = env!
        guard name.first.map({ $0 == "_" || $0.isLetter }) == true, name.allSatisfy({ $0 == "_" || $0.isLetter || $0.isNumber }),
              name.utf8.count <= 128 else {
            throw fail("dsn_env", "is not an environment variable name (the value is not shown: it may be a secret)")
        }
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
            throw fail("dsn_env", "environment variable \(name) is not set")
        }
        return value
    }

    /// Where the first NUL character sits in a JSON document (a key or a string), as a key path.
    static func nulPath(_ value: JSONValue, at path: String) -> String? {
        switch value {
        case .string(let text): return text.utf8.contains(0) ? path : nil
        case .array(let items):
            for (index, item) in items.enumerated() { if let found = nulPath(item, at: "\(path)[\(index)]") { return found } }
            return nil
        case .object(let members):
            for (key, member) in members {
                let child = path.isEmpty ? key : "\(path).\(key)"
                if key.utf8.contains(0) { return path.isEmpty ? "(a connection name)" : "\(path) (a key)" }
                if let found = nulPath(member, at: child) { return found }
            }
            return nil
        default: return nil
        }
    }

    /// A value quoted in an error, unless it may be a secret put under the wrong key (a DSN in
    /// `kind`, `query` or `dsn_file`): errors reach logs and the control plane.
    static func shown(_ value: String) -> String {
        let suspicious = value.contains("://") || value.contains("=") || value.contains("@") || value.utf8.count > 200
            || value.contains { $0.isWhitespace }
        return suspicious ? "the value (not shown: it looks like it may hold a secret)" : "\"\(value)\""
    }

    /// The settings a job reads through: its connection_ref resolved, its table checked against the allow-list.
    public func settings(for spec: JobSpec) throws -> ConnectionSettings {
        let settings = try settings(for: spec.source.connectionRef)
        guard settings.kind == spec.source.kind else {
            throw JobSpecError(field: "source.kind",
                               problem: "\"\(spec.source.kind)\" does not match connection \"\(settings.name)\", which is \"\(settings.kind)\" in \(file)")
        }
        try settings.checkAllowed(schema: spec.source.schema, table: spec.source.table, file: file)
        return settings
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
