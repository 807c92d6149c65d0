import CLibPQ
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One libpq connection. Not thread-safe: use it from one thread at a time.
/// `cancelToken()` is the one part that may be used from another thread.
///
/// Commands are sent asynchronously and awaited with `poll(2)`, so a server that stops answering
/// (SIGSTOPped, a dead link the kernel still acknowledges) is noticed: after `idleDeadline`
/// seconds without a byte the connection is abandoned and the command fails as `connectionLost`.
/// `interrupted` is asked while waiting; once it answers true, the command is given
/// `interruptGrace` seconds (for a cancel request to land) before the connection is abandoned.
public final class PostgresConnection {
    let handle: OpaquePointer
    private var abandoned = false
    var isAbandoned: Bool { abandoned }
    /// Seconds without any byte from the server before a command is abandoned (nil = wait for ever).
    public var idleDeadline: Double?
    /// Polled while a command waits; true means "the caller wants out".
    public var interrupted: (() -> Bool)?
    public var interruptGrace: Double = 2

    /// Opens a connection. `conninfo` is passed to libpq as is (URI, key=value, `service=`),
    /// so `.pgpass` and service files work; `overrides` win over what it says. The handshake is
    /// driven with `poll(2)`: it gives up after `connectTimeout` seconds (a server that accepts
    /// TCP but never answers) and soon after `interrupted` answers true.
    public init(conninfo: String, overrides: [String: String] = [:], connectTimeout: Double? = nil,
                interrupted: (() -> Bool)? = nil) throws {
        guard ConninfoSecrets.isParsable(conninfo) else {
            // libpq's parse errors quote the DSN, password included: never show them.
            throw PostgresError(kind: .connectRefused, sqlState: nil,
                                message: "could not connect: the DSN is malformed (check its quoting and percent-encoding; libpq's message is withheld because it quotes the DSN)")
        }
        var keys = ["dbname"] + overrides.keys.sorted()
        var values = [conninfo] + overrides.keys.sorted().map { overrides[$0]! }
        keys.append("client_encoding"); values.append("UTF8")
        let connection = withCStringArray(keys) { keyPointers in
            withCStringArray(values) { valuePointers in
                PQconnectStartParams(keyPointers, valuePointers, 1)
            }
        }
        guard let connection else {
            throw PostgresError(kind: .connect, sqlState: nil, message: "out of memory while connecting")
        }
        let secrets = [conninfo] + ConninfoSecrets.find(in: conninfo)
        func fail(_ message: String, kind: PostgresError.Kind = .connect) -> PostgresError {
            PQfinish(connection)
            return PostgresError(kind: kind, sqlState: nil, message: "could not connect: \(message)")
        }
        guard PQstatus(connection) != CONNECTION_BAD else {
            // Failed before any network traffic: an invalid option in the settings.
            throw fail(Self.scrub(String(cString: PQerrorMessage(connection)), removing: secrets), kind: .connectRefused)
        }
        let startedAt = Self.monotonicNow()
        var status = PGRES_POLLING_WRITING
        while status != PGRES_POLLING_OK {
            if status == PGRES_POLLING_FAILED {
                let message = String(cString: PQerrorMessage(connection))
                throw fail(Self.scrub(message, removing: secrets), kind: Self.isLoginRefusal(message) ? .connectRefused : .connect)
            }
            if let connectTimeout, Self.monotonicNow() - startedAt > connectTimeout {
                throw fail("the server did not complete the connection within \(Int(connectTimeout)) s")
            }
            if interrupted?() == true { throw fail("interrupted while connecting") }
            let events = status == PGRES_POLLING_READING ? POLLIN : POLLOUT
            var descriptor = pollfd(fd: PQsocket(connection), events: Int16(events), revents: 0)
            if poll(&descriptor, 1, 100) != 0 { status = PQconnectPoll(connection) }
        }
        // libpq prints server notices to stderr by default; they are not the connector's to print.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        handle = connection
    }

    deinit { PQfinish(handle) }

    /// The server answered and said no: bad credentials, an unknown role or database, pg_hba.
    /// (libpq gives connection failures no SQLSTATE, so its stable message texts are matched.)
    static func isLoginRefusal(_ message: String) -> Bool {
        ["authentication failed", "does not exist", "no pg_hba.conf entry", "permission denied",
         "password is required", "not permitted to log in", "SSL is not enabled", "server does not support SSL"]
            .contains { message.contains($0) }
    }

    public var serverVersion: Int { Int(PQserverVersion(handle)) }
    public var isBroken: Bool { abandoned || PQstatus(handle) != CONNECTION_OK }

    /// Runs one or more statements without parameters (text results); the last result is returned.
    @discardableResult
    public func execute(_ sql: String) throws -> PostgresResult {
        try send(sql)
        return try receive(sql)
    }

    /// Sends statements without waiting for their result, so the server works while the caller
    /// does something else; `receive(_:)` collects it. One command at a time is in flight.
    public func send(_ sql: String) throws {
        try ensureUsable(sql)
        guard PQsendQuery(handle, sql) == 1 else { throw sendFailure(sql) }
    }

    /// The last result of the statements `send(_:)` sent (`sql` names them in errors).
    public func receive(_ sql: String) throws -> PostgresResult {
        try awaitResult(sql: sql)
    }

    /// Runs one statement with text parameters; `types` are parameter type OIDs (0 = let the server infer).
    public func query(_ sql: String, _ parameters: [String?], types: [UInt32] = []) throws -> PostgresResult {
        precondition(types.isEmpty || types.count == parameters.count)
        try ensureUsable(sql)
        let typeArray = types.isEmpty ? nil : types
        let sent: Int32 = withOptionalCStringArray(parameters) { valuePointers in
            if let typeArray {
                return typeArray.withUnsafeBufferPointer { typePointer in
                    PQsendQueryParams(handle, sql, Int32(parameters.count), typePointer.baseAddress, valuePointers, nil, nil, 0)
                }
            }
            return PQsendQueryParams(handle, sql, Int32(parameters.count), nil, valuePointers, nil, nil, 0)
        }
        guard sent == 1 else { throw sendFailure(sql) }
        return try awaitResult(sql: sql)
    }

    /// A handle that can ask the server to cancel the running statement from another thread.
    public func cancelToken() -> PostgresCancelToken? {
        guard !abandoned, let cancel = PQgetCancel(handle) else { return nil }
        return PostgresCancelToken(handle: cancel)
    }

    /// Gives up on the connection without talking to the server again (it may be hung).
    public func abandon() {
        guard !abandoned else { return }
        abandoned = true
        let socket = PQsocket(handle)
        if socket >= 0 { shutdown(socket, Int32(SHUT_RDWR)) }
    }

    private func ensureUsable(_ sql: String) throws {
        if abandoned {
            throw PostgresError(kind: .connectionLost, sqlState: nil, message: "the connection was abandoned", statement: sql)
        }
    }

    func sendFailureError(_ sql: String) -> PostgresError { sendFailure(sql) }

    private func sendFailure(_ sql: String) -> PostgresError {
        PostgresError(kind: isBroken ? .connectionLost : .protocolViolation, sqlState: nil,
                      message: Self.scrub(String(cString: PQerrorMessage(handle))), statement: sql)
    }

    /// Waits for the command's results without blocking in libpq, then returns the last one (or
    /// the first error), freeing the others.
    private func awaitResult(sql: String) throws -> PostgresResult {
        var kept: OpaquePointer?
        var keptIsError = false
        while true {
            do {
                try waitUntilReadable(sql: sql)
            } catch {
                if let kept { PQclear(kept) }
                throw error
            }
            guard let next = PQgetResult(handle) else { break }
            if keptIsError { PQclear(next); continue }
            if let previous = kept { PQclear(previous) }
            kept = next
            keptIsError = isFailure(next)
        }
        return try check(kept, sql: sql)
    }

    /// Polls the socket until libpq holds a whole result (or knows there is none).
    func waitForInput(sql: String) throws { try waitUntilReadable(sql: sql) }

    private func waitUntilReadable(sql: String) throws {
        let socket = PQsocket(handle)
        var lastByteAt = monotonicNow()
        var interruptedAt: Double?
        while PQisBusy(handle) == 1 {
            let now = monotonicNow()
            if let deadline = idleDeadline, now - lastByteAt > deadline {
                abandon()
                throw PostgresError(kind: .connectionLost, sqlState: nil,
                                    message: "the server sent nothing for \(Int(deadline)) s; connection abandoned", statement: sql)
            }
            if interruptedAt == nil, interrupted?() == true { interruptedAt = now }
            if let since = interruptedAt, now - since > interruptGrace {
                abandon()
                throw PostgresError(kind: .connectionLost, sqlState: "57014",
                                    message: "canceling statement due to user request (the server did not answer; connection abandoned)", statement: sql)
            }
            var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, 100)
            if ready < 0 && errno != EINTR {
                abandon()
                throw PostgresError(kind: .connectionLost, sqlState: nil, message: "poll failed (errno \(errno))", statement: sql)
            }
            if ready > 0 {
                lastByteAt = monotonicNow()
                guard PQconsumeInput(handle) == 1 else {
                    throw PostgresError(kind: .connectionLost, sqlState: nil,
                                        message: Self.scrub(String(cString: PQerrorMessage(handle))), statement: sql)
                }
            }
        }
    }

    private func isFailure(_ result: OpaquePointer) -> Bool {
        let status = PQresultStatus(result)
        return !(status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK || status == PGRES_EMPTY_QUERY)
    }

    private func check(_ raw: OpaquePointer?, sql: String) throws -> PostgresResult {
        guard let raw else {
            throw PostgresError(
                kind: isBroken ? .connectionLost : .protocolViolation,
                sqlState: nil, message: Self.scrub(String(cString: PQerrorMessage(handle))), statement: sql)
        }
        let status = PQresultStatus(raw)
        if status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK || status == PGRES_EMPTY_QUERY {
            return PostgresResult(handle: raw)
        }
        let error = errorFrom(raw, sql: sql)
        PQclear(raw)
        throw error
    }

    /// The error a failed result carries: its SQLSTATE and primary message (not freed here).
    func errorFrom(_ raw: OpaquePointer, sql: String) -> PostgresError {
        let state = PQresultErrorField(raw, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
        let primary = PQresultErrorField(raw, Int32(UInt8(ascii: "M"))).map { String(cString: $0) }
            ?? Self.scrub(String(cString: PQresultErrorMessage(raw)))
        let kind: PostgresError.Kind = isBroken ? .connectionLost : .server
        return PostgresError(kind: kind, sqlState: state, message: primary, statement: sql)
    }

    /// libpq's connection messages can quote the host and user but never the password; we keep
    /// only the first line and drop anything that looks like a `password=` pair to be sure.
    static func scrub(_ message: String, removing secrets: [String] = []) -> String {
        let lines = message.split(separator: "\n").map { $0.trimmingCharacters() }.filter { !$0.isEmpty }
        let joined = lines.joined(separator: "; ")
        let leaks = joined.contains("password=") || joined.contains("percent-encoded")
            || secrets.contains { !$0.isEmpty && joined.contains($0) }
        guard leaks else { return joined }
        return "connection failed (details withheld: the message quoted connection settings)"
    }

    /// The password a conninfo string carries, if any, so messages can be checked for it.
    public static func secrets(in conninfo: String) -> [String] {
        ConninfoSecrets.find(in: conninfo)
    }

    private func monotonicNow() -> Double { Self.monotonicNow() }

    private static func monotonicNow() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}

/// Cancels the statement running on a connection; safe to use from any thread.
public final class PostgresCancelToken: @unchecked Sendable {
    private let handle: OpaquePointer

    init(handle: OpaquePointer) { self.handle = handle }
    deinit { PQfreeCancel(handle) }

    /// Best effort: the server may already have finished the statement. Blocks while it dials
    /// the server, which can take long when the server hangs: call it off the hot path.
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
