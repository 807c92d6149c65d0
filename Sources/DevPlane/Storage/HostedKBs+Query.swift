import KBRules
import SQLiteStore
import TimbalModel
import TimbalSupport

extension HostedKBs {
    /// A `/k2` query's refusal: the message is safe to show (no host path, no SQL echo).
    public struct QueryError: Error, CustomStringConvertible, Sendable {
        public let message: String
        public var description: String { message }
    }

    /// Runs SQL from the `/k2` route on a hosted KB, on an `UntrustedReadConnection` (read-only,
    /// no ATTACH, no writing pragma, limits) and interrupted after `timeoutSeconds`. Cells as plain
    /// JSON, at most `limit` rows. Blocking: call it off the cooperative pool.
    public func query(kbID: Int64, sql: String, limit: Int = 10_000, timeoutSeconds: Double = 10) throws -> JSONValue {
        guard let path = existingPath(kbID: kbID) else {
            throw QueryError(message: "kb_id: hosted KB \(kbID) has no data yet")
        }
        do {
            let connection = try UntrustedReadConnection(path: path)
            connection.setDeadline(seconds: timeoutSeconds)
            do {
                return try Self.read(connection.prepare(sql), limit: limit)
            } catch let error as SQLiteError where connection.deadlinePassed {
                _ = error
                throw QueryError(message: "sql: the query ran past its \(Int(timeoutSeconds * 1000)) ms deadline and was interrupted")
            }
        } catch let error as SQLiteError {
            // SQLite's message, never its file path.
            throw QueryError(message: "sql: \(error.message) [code \(error.code)]")
        }
    }

    private static func read(_ statement: SQLiteStatement, limit: Int) throws -> JSONValue {
        var rows: [JSONValue] = []
        var truncated = false
        while try statement.step() {
            if rows.count >= limit { truncated = true; break }
            rows.append(.array((0..<statement.columnCount).map { column in
                switch statement.value(at: column) {
                case .null: return .null
                case .integer(let v): return .number(String(v))
                case .real(let v): return v.isFinite ? .number(String(v)) : .string(String(v))
                case .text(let v): return .string(v)
                case .blob(let v): return .string("0x" + v.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined())
                }
            }))
        }
        let columns = (0..<statement.columnCount).map { column in
            JSONValue.object([("name", .string(statement.columnName(at: column))), ("data_type", .string(statement.declaredType(at: column) ?? ""))])
        }
        return .object([("columns", .array(columns)), ("rows", .array(rows)), ("row_count", .number(String(rows.count))),
                        ("truncated", .bool(truncated))])
    }
}
