import CLibPQ
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The result of one statement run with a row and byte cap: the first rows, as text.
public struct CappedResult: Sendable {
    public struct Column: Sendable, Equatable {
        public var name: String
        public var typeOID: UInt32
    }
    /// Empty for a statement that returns no rows (an UPDATE, a SET).
    public var columns: [Column] = []
    public var rows: [[String?]] = []
    /// True when the statement returned rows past the caps (they were read and dropped).
    public var truncated = false
    /// Rows an INSERT, UPDATE, DELETE, MERGE or COPY changed (with or without RETURNING); nil for other statements.
    public var rowsAffected: Int64?
    /// The statement returned a result set (possibly of no columns, or no rows).
    public var returnsRows = false
    /// The statement's command tag, e.g. `SELECT 5`, `UPDATE 3`, `COMMIT`.
    public var commandTag: String?

    public init() {}
}

/// In a transaction block (`PQTRANS_INTRANS`), idle, or failed: what libpq says after a command.
public enum TransactionStatus: Sendable {
    case idle, inTransaction, failed, other
}

extension PostgresConnection {
    /// The session's transaction status after the last command.
    public var transactionStatus: TransactionStatus {
        switch PQtransactionStatus(handle) {
        case PQTRANS_IDLE: return .idle
        case PQTRANS_INTRANS: return .inTransaction
        case PQTRANS_INERROR: return .failed
        default: return .other
        }
    }

    /// Runs exactly one statement through the extended protocol (the server refuses a string
    /// holding two) in single-row mode, keeping at most `maxRows` rows and about `maxBytes` of
    /// cell text; later rows are read and dropped so the connection stays usable (to stop a big
    /// scan early, run it through a cursor and FETCH a bounded number of rows). A COPY to or
    /// from the client is refused and the connection abandoned (it cannot go on).
    public func runCapped(_ sql: String, maxRows: Int, maxBytes: Int) throws -> CappedResult {
        if isAbandoned {
            throw PostgresError(kind: .connectionLost, sqlState: nil, message: "the connection was abandoned", statement: sql)
        }
        guard PQsendQueryParams(handle, sql, 0, nil, nil, nil, nil, 0) == 1 else { throw sendFailureError(sql) }
        PQsetSingleRowMode(handle)
        var result = CappedResult()
        var bytes = 0
        var failure: PostgresError?
        while true {
            try waitForInput(sql: sql)
            guard let next = PQgetResult(handle) else { break }
            defer { PQclear(next) }
            if failure != nil { continue }
            let status = PQresultStatus(next)
            switch status {
            case PGRES_SINGLE_TUPLE, PGRES_TUPLES_OK:
                result.returnsRows = true
                if result.columns.isEmpty {
                    result.columns = (0..<PQnfields(next)).map {
                        CappedResult.Column(name: String(cString: PQfname(next, $0)), typeOID: UInt32(PQftype(next, $0)))
                    }
                }
                for row in 0..<PQntuples(next) {
                    var rowBytes = 0
                    for column in 0..<PQnfields(next) { rowBytes += Int(PQgetlength(next, row, column)) }
                    if result.rows.count >= maxRows || (bytes + rowBytes > maxBytes && !result.rows.isEmpty) {
                        result.truncated = true
                        continue
                    }
                    bytes += rowBytes
                    result.rows.append((0..<PQnfields(next)).map { column in
                        PQgetisnull(next, row, column) == 1 ? nil : String(cString: PQgetvalue(next, row, column))
                    })
                }
            case PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
                break
            case PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_COPY_BOTH:
                abandon()
                throw PostgresError(kind: .server, sqlState: "0A000", message: "COPY to or from the client is not supported here", statement: sql)
            default:
                failure = errorFrom(next, sql: sql)
            }
            // The statement's completion (the last, zero-row result in single-row mode) says what it changed.
            if status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK {
                let tag = String(cString: PQcmdStatus(next))
                result.commandTag = tag
                let changes = ["INSERT", "UPDATE", "DELETE", "MERGE", "COPY"].contains { tag.hasPrefix($0) }
                if changes, let count = Int64(String(cString: PQcmdTuples(next))) { result.rowsAffected = count }
            }
        }
        if let failure { throw failure }
        return result
    }
}
