import CLibPQ

/// One libpq connection. Not thread-safe: use it from one thread at a time.
/// `cancelToken()` is the one part that may be used from another thread.
public final class PostgresConnection {
    private let handle: OpaquePointer

    /// Opens a connection. `conninfo` is passed to libpq as is (URI, key=value, `service=`),
    /// so `.pgpass` and service files work; `overrides` win over what it says.
    public init(conninfo: String, overrides: [String: String] = [:]) throws {
        var keys = ["dbname"] + overrides.keys.sorted()
        var values = [conninfo] + overrides.keys.sorted().map { overrides[$0]! }
        keys.append("client_encoding"); values.append("UTF8")
        let connection = withCStringArray(keys) { keyPointers in
            withCStringArray(values) { valuePointers in
                PQconnectdbParams(keyPointers, valuePointers, 1)
            }
        }
        guard let connection else {
            throw PostgresError(kind: .connect, sqlState: nil, message: "out of memory while connecting")
        }
        if PQstatus(connection) != CONNECTION_OK {
            let secrets = [conninfo] + Self.secrets(in: conninfo)
            let message = Self.scrub(String(cString: PQerrorMessage(connection)), removing: secrets)
            PQfinish(connection)
            throw PostgresError(kind: .connect, sqlState: nil, message: "could not connect: \(message)")
        }
        handle = connection
    }

    deinit { PQfinish(handle) }

    public var serverVersion: Int { Int(PQserverVersion(handle)) }
    public var isBroken: Bool { PQstatus(handle) != CONNECTION_OK }

    /// Runs one or more statements without parameters (text results).
    @discardableResult
    public func execute(_ sql: String) throws -> PostgresResult {
        let raw = PQexec(handle, sql)
        return try check(raw, sql: sql)
    }

    /// Runs one statement with text parameters; `types` are parameter type OIDs (0 = let the server infer).
    public func query(_ sql: String, _ parameters: [String?], types: [UInt32] = []) throws -> PostgresResult {
        precondition(types.isEmpty || types.count == parameters.count)
        let typeArray = types.isEmpty ? nil : types
        let raw: OpaquePointer? = withOptionalCStringArray(parameters) { valuePointers in
            if let typeArray {
                return typeArray.withUnsafeBufferPointer { typePointer in
                    PQexecParams(handle, sql, Int32(parameters.count), typePointer.baseAddress, valuePointers, nil, nil, 0)
                }
            }
            return PQexecParams(handle, sql, Int32(parameters.count), nil, valuePointers, nil, nil, 0)
        }
        return try check(raw, sql: sql)
    }

    /// A handle that can ask the server to cancel the running statement from another thread.
    public func cancelToken() -> PostgresCancelToken? {
        guard let cancel = PQgetCancel(handle) else { return nil }
        return PostgresCancelToken(handle: cancel)
    }

    private func check(_ raw: OpaquePointer?, sql: String) throws -> PostgresResult {
        guard let raw else {
            throw PostgresError(
                kind: isBroken ? .connectionLost : .protocolViolation,
                sqlState: nil, message: Self.scrub(String(cString: PQerrorMessage(handle))), statement: sql)
        }
        let status = PQresultStatus(raw)
        if status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK {
            return PostgresResult(handle: raw)
        }
        let state = PQresultErrorField(raw, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
        let primary = PQresultErrorField(raw, Int32(UInt8(ascii: "M"))).map { String(cString: $0) }
            ?? Self.scrub(String(cString: PQresultErrorMessage(raw)))
        PQclear(raw)
        let kind: PostgresError.Kind = isBroken ? .connectionLost : .server
        throw PostgresError(kind: kind, sqlState: state, message: primary, statement: sql)
    }

    /// libpq's connection messages can quote the host and user but never the password; we keep
    /// only the first line and drop anything that looks like a `password=` pair to be sure.
    static func scrub(_ message: String, removing secrets: [String] = []) -> String {
        let lines = message.split(separator: "\n").map { $0.trimmingCharacters() }.filter { !$0.isEmpty }
        let joined = lines.joined(separator: "; ")
        let leaks = joined.contains("password=") || secrets.contains { !$0.isEmpty && joined.contains($0) }
        guard leaks else { return joined }
        return "connection failed (details withheld: the message quoted connection settings)"
    }

    /// The password a conninfo string carries, if any, so messages can be checked for it.
    public static func secrets(in conninfo: String) -> [String] {
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &errorMessage) else {
            if let errorMessage { PQfreemem(errorMessage) }
            return []
        }
        defer { PQconninfoFree(options) }
        var found: [String] = []
        var option = options
        while let keyword = option.pointee.keyword {
            if String(cString: keyword) == "password", let value = option.pointee.val {
                found.append(String(cString: value))
            }
            option += 1
        }
        return found
    }
}

/// Cancels the statement running on a connection; safe to use from any thread.
public final class PostgresCancelToken: @unchecked Sendable {
    private let handle: OpaquePointer

    init(handle: OpaquePointer) { self.handle = handle }
    deinit { PQfreeCancel(handle) }

    /// Best effort: the server may already have finished the statement.
    public func cancel() {
        var buffer = [CChar](repeating: 0, count: 256)
        _ = PQcancel(handle, &buffer, Int32(buffer.count))
    }
}

extension Substring {
    fileprivate func trimmingCharacters() -> String {
        var slice = self[...]
        while let first = slice.first, first.isWhitespace { slice = slice.dropFirst() }
        while let last = slice.last, last.isWhitespace { slice = slice.dropLast() }
        return String(slice)
    }
}
