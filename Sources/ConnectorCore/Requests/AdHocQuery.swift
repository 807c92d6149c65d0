import PostgresClient

/// A `query:sql` request: `{connection_ref, sql, max_rows?, mode?, timeout_ms?}`.
public struct QueryRequest: Sendable, Equatable {
    public var connectionRef: String
    public var sql: String
    public var maxRows: Int
    public var mode: QueryMode
    public var timeoutMs: Int

    public static let defaultMaxRows = 500
    public static let maxRowsCeiling = 10_000
    public static let defaultTimeoutMs = 30_000
    public static let timeoutCeilingMs = 60_000
    /// The answer's rows stop at about this many bytes of cell text (`truncated` says so).
    public static let maxResultBytes = 8 << 20

    public static func decode(_ params: JSONValue) throws -> QueryRequest {
        do {
            let body = try FieldReader(params, path: "")
            let ref = try body.nonEmptyString("connection_ref").unwrap(or: "connection_ref")
            let sql = try body.nonEmptyString("sql").unwrap(or: "sql")
            // libpq reads a C string: a NUL would silently cut the statement short.
            if sql.utf8.contains(0) { throw JobSpecError(field: "sql", problem: "must not contain a NUL character") }
            if ref.utf8.contains(0) { throw JobSpecError(field: "connection_ref", problem: "must not contain a NUL character") }
            let maxRows = try body.integer("max_rows", min: 1, max: Int64(maxRowsCeiling), typeName: "an integer") ?? Int64(defaultMaxRows)
            let mode = try body.oneOf("mode", QueryMode.self, allowed: QueryMode.allCases) ?? .read
            let timeout = try body.integer("timeout_ms", min: 1, max: Int64(timeoutCeilingMs), typeName: "an integer")
                ?? Int64(defaultTimeoutMs)
            return QueryRequest(connectionRef: ref, sql: sql, maxRows: Int(maxRows), mode: mode, timeoutMs: Int(timeout))
        } catch let error as JobSpecError {
            throw RequestError.invalid(error)
        }
    }
}

/// Runs an ad-hoc query on a source and answers `{columns, rows, row_count, truncated, rows_affected?}`.
///
/// The batch runs as one transaction, statement by statement (SQLStatements), each capped at
/// `max_rows` rows and `maxResultBytes`; the last statement that returned rows is the answer.
/// `read` mode: `BEGIN READ ONLY` and a first snapshot taken at once (so no statement can turn the
/// transaction read-write), and a statement that ends the transaction (COMMIT, ROLLBACK) stops
/// the batch; the transaction is rolled back at the end. `write` mode needs the connection's
/// `"query": "write"`; its transaction is committed. `timeout_ms` bounds the whole batch.
public enum AdHocQuery {
    public static func run(_ request: QueryRequest, connections: Connections) throws -> JSONValue {
        do {
            return try runUnmapped(request, connections: connections)
        } catch {
            throw RequestError.from(error, connectionRef: request.connectionRef)
        }
    }

    private static func runUnmapped(_ request: QueryRequest, connections: Connections) throws -> JSONValue {
        let settings = try connections.settings(for: request.connectionRef)
        if request.mode == .write && settings.queryPolicy != .write {
            throw RequestError(.forbidden, "mode: connection \"\(settings.name)\" allows read queries only (its \"query\" policy in \(connections.file) is not \"write\")")
        }
        let statements = SQLStatements.split(request.sql)
        guard !statements.isEmpty else { throw RequestError(.invalid, "sql: holds no statement") }
        for statement in statements {
            if let refusal = StatementGuard.refusal(statement, mode: request.mode) { throw RequestError(.forbidden, refusal) }
        }
        let connection = try SourceSession.open(settings, jobID: "query")
        let clock = SystemClock()
        let deadline = clock.now() + Double(request.timeoutMs) / 1000
        connection.idleDeadline = Double(request.timeoutMs) / 1000 + ConnectionSettings.clientDeadlineMarginSeconds
        if connection.serverVersion >= 140000 {
            // A statement left running when the connector gives up is ended by the server itself
            // once it sees the connection closed, instead of holding its snapshot on.
            try connection.execute("SET client_connection_check_interval = 1000")
        }
        if request.mode == .read {
            // The first snapshot is taken at once: from then on no statement can make it read-write.
            try connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT 1")
        } else {
            try connection.execute("SET default_transaction_read_only = off; BEGIN READ WRITE")
        }
        var answer: CappedResult?
        var rowsAffected: Int64?
        for statement in statements {
            let remainingMs = Int((deadline - clock.now()) * 1000)
            guard remainingMs > 0 else { throw timeoutError(request) }
            try connection.execute("SET LOCAL statement_timeout = \(remainingMs)")
            let result: CappedResult
            do {
                result = try run(statement, request: request, on: connection)
            } catch let error as PostgresError where error.isStatementTimeout || (error.kind == .connectionLost && clock.now() >= deadline) {
                throw timeoutError(request)
            }
            if let tag = result.commandTag, StatementGuard.forbiddenTag(tag) {
                // Should never run (refused above): if one did, nothing more runs and nothing is committed.
                throw RequestError(.forbidden, "sql: a \(tag) statement ran; the batch was stopped and rolled back")
            }
            if result.returnsRows { answer = result }
            if let affected = result.rowsAffected { rowsAffected = (rowsAffected ?? 0) + affected }
            guard connection.transactionStatus == .inTransaction else {
                throw RequestError(.forbidden, "sql: a statement ended the batch's transaction: not allowed")
            }
        }
        if connection.transactionStatus == .inTransaction {
            try connection.execute(request.mode == .read ? "ROLLBACK" : "COMMIT")
        }
        return try encode(answer, rowsAffected: rowsAffected, on: connection)
    }

    /// A query (SELECT, VALUES, TABLE, WITH, or one in parentheses) in read mode runs through a
    /// cursor, fetched in small steps until `max_rows` + 1 rows or the byte cap: a preview of a
    /// big table reads what it shows, not the whole table. Anything else runs as it is, its rows
    /// past the caps read and dropped.
    private static func run(_ statement: String, request: QueryRequest, on connection: PostgresConnection) throws -> CappedResult {
        let first = StatementGuard.leadingWords(statement, count: 1).first ?? ""
        let parenthesized = statement.drop { $0.isWhitespace }.hasPrefix("(")
        guard request.mode == .read, parenthesized || ["SELECT", "VALUES", "TABLE", "WITH"].contains(first) else {
            return try connection.runCapped(statement, maxRows: request.maxRows, maxBytes: QueryRequest.maxResultBytes)
        }
        _ = try connection.runCapped("DECLARE timbal_preview NO SCROLL CURSOR FOR " + statement, maxRows: 0, maxBytes: 0)
        var result = CappedResult()
        result.returnsRows = true
        var bytes = 0
        while true {
            let want = min(previewStepRows, request.maxRows + 1 - result.rows.count)
            let step = try connection.runCapped("FETCH FORWARD \(want) FROM timbal_preview", maxRows: want, maxBytes: .max)
            if result.columns.isEmpty { result.columns = step.columns }
            for row in step.rows {
                let size = row.reduce(0) { $0 + ($1?.utf8.count ?? 0) }
                if result.rows.count >= request.maxRows || (bytes + size > QueryRequest.maxResultBytes && !result.rows.isEmpty) {
                    result.truncated = true
                    break
                }
                bytes += size
                result.rows.append(row)
            }
            if result.truncated || step.rows.count < want { break }
        }
        try connection.execute("CLOSE timbal_preview")
        return result
    }

    /// Rows a preview fetches at a time: few enough that the byte cap stops a scan of huge rows early.
    static let previewStepRows = 100

    private static func timeoutError(_ request: QueryRequest) -> RequestError {
        RequestError(.statement, "the query ran longer than timeout_ms (\(request.timeoutMs) ms) and was cancelled", sqlState: "57014")
    }

    /// Cells follow the platform's convention (docs/protocol.md); arrays stay Postgres's array
    /// text (a string), since an ad-hoc query is run as written, not rewritten through `to_json`.
    private static func encode(_ result: CappedResult?, rowsAffected: Int64?, on connection: PostgresConnection) throws -> JSONValue {
        var members: [(String, JSONValue)] = []
        let columns = result?.columns ?? []
        let types = try typeNames(Set(columns.map(\.typeOID)), on: connection)
        members.append(("columns", .array(columns.map {
            .object([("name", .string($0.name)), ("data_type", .string(types[$0.typeOID]?.name ?? "oid:\($0.typeOID)"))])
        })))
        let kinds = columns.map { types[$0.typeOID]?.kind ?? .text }
        let encoder = JSONRowEncoder(kinds: kinds)
        var bytes: [UInt8] = [UInt8(ascii: "[")]
        for (index, row) in (result?.rows ?? []).enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            encoder.appendRow(row, to: &bytes)
        }
        bytes.append(UInt8(ascii: "]"))
        members.append(("rows", try JSONParser.parse(bytes)))
        members.append(("row_count", .number(String(result?.rows.count ?? 0))))
        members.append(("truncated", .bool(result?.truncated ?? false)))
        if let rowsAffected { members.append(("rows_affected", .number(String(rowsAffected)))) }
        return .object(members)
    }

    private static func typeNames(_ oids: Set<UInt32>, on connection: PostgresConnection) throws -> [UInt32: (name: String, kind: ColumnKind)] {
        guard !oids.isEmpty else { return [:] }
        let list = "{" + oids.map(String.init).joined(separator: ",") + "}"
        let rows = try connection.query(
            """
            SELECT t.oid, t.typname, b.typname, b.typcategory, b.typtype = 'e'
            FROM pg_catalog.pg_type t JOIN pg_catalog.pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
            WHERE t.oid = ANY($1::oid[])
            """, [list])
        var names: [UInt32: (String, ColumnKind)] = [:]
        for row in 0..<rows.rowCount {
            guard let oid = UInt32(rows.string(row, 0) ?? "") else { continue }
            let category = rows.string(row, 3) ?? ""
            let kind = category == "A" ? ColumnKind.text
                : ColumnKind.forPostgres(typeName: rows.string(row, 2) ?? "", category: category, isEnum: rows.string(row, 4) == "t")
            names[oid] = (rows.string(row, 1) ?? "", kind)
        }
        return names
    }
}
