import ConnectorCore
import Foundation
import Logging
import PostgresClient
import SQLiteStore
import Testing

/// The real Postgres the integration tests use: `TIMBAL_TEST_PG_DSN`, default a local server.
/// On a laptop without one the suites are skipped; under CI (`CI=true`) they run and fail.
enum TestDatabase {
    static let dsn = ProcessInfo.processInfo.environment["TIMBAL_TEST_PG_DSN"]
        ?? "postgresql://postgres@127.0.0.1:5432/postgres"

    static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"

    /// Printed for every skipped suite (scripts/test.sh lists skips and counts them).
    static let skipReason: Comment = "no PostgreSQL at TIMBAL_TEST_PG_DSN (default 127.0.0.1:5432); scripts/test.sh starts one; under CI=true these tests run and fail instead of skipping"

    static let isAvailable: Bool = {
        if isCI { return true }
        return (try? PostgresConnection(conninfo: dsn, overrides: ["connect_timeout": "2"])) != nil
    }()

    static func connect() throws -> PostgresConnection {
        try PostgresConnection(conninfo: dsn)
    }
}

/// A private schema and a temporary state dir for one test; both removed when it ends.
final class Scratch {
    let schema: String
    let stateDir: String
    let admin: PostgresConnection
    let logger: Logger

    init(schemaName: String? = nil) throws {
        let suffix = UUID().uuidString.prefix(8).lowercased()
        schema = schemaName.map { "\($0) \(suffix)" } ?? "t_\(suffix)"
        stateDir = NSTemporaryDirectory() + "timbal-test-\(suffix)"
        try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true)
        admin = try TestDatabase.connect()
        try admin.execute("SET client_min_messages = warning; CREATE SCHEMA \(SQLIdentifier.quote(schema))")
        logger = Logger(label: "test")
    }

    deinit {
        _ = try? admin.execute("DROP SCHEMA IF EXISTS \(SQLIdentifier.quote(schema)) CASCADE")
        try? FileManager.default.removeItem(atPath: stateDir)
    }

    var table: (String) -> String { { SQLIdentifier.quote(schema: self.schema, table: $0) } }

    /// Runs SQL with `{s}` replaced by the quoted schema.
    @discardableResult
    func sql(_ text: String) throws -> PostgresResult {
        try admin.execute(text.replacingOccurrences(of: "{s}", with: SQLIdentifier.quote(schema)))
    }

    /// Tests of the cursor-order read itself (segments, held segments, ties, the NULL pass) set
    /// this: a whole-table read then stays in cursor order instead of loading by key.
    var byCursor = false

    /// A scratch schema whose whole-table reads stay in cursor order (see `byCursor`).
    static func byCursor() throws -> Scratch {
        let scratch = try Scratch()
        scratch.byCursor = true
        return scratch
    }

    var connection: ConnectionSettings {
        var settings = ConnectionSettings(name: "test", dsn: TestDatabase.dsn)
        settings.firstLoadByKey = !byCursor
        return settings
    }

    func spec(table: String, dest: String? = nil, cursor: String? = "updated_at", batchRows: Int = 0,
              mode: JobSpec.Mode = .create, columns: [String]? = nil, keyColumns: [String] = [],
              resume: Checkpoint? = nil, pacing: Pacing = Pacing()) -> JobSpec {
        JobSpec(kbID: 1, destTable: dest ?? table,
                source: SourceSpec(connectionRef: "test", table: table, schema: schema, cursorColumn: cursor, columns: columns),
                requestedBatchRows: batchRows, cursor: resume, mode: mode, keyColumns: keyColumns, pacing: pacing, placement: .local)
    }

    func extractor(_ spec: JobSpec, jobID: String = "job-\(UUID().uuidString.prefix(8))") -> Extractor {
        Extractor(spec: spec, jobID: jobID, connection: connection, stateDir: stateDir, logger: logger)
    }

    @discardableResult
    func extract(_ spec: JobSpec, jobID: String = "job-\(UUID().uuidString.prefix(8))") throws -> ExtractResult {
        try extractor(spec, jobID: jobID).run()
    }

    func kb(_ id: Int64 = 1) throws -> SQLiteDatabase {
        try SQLiteDatabase(path: LocalKB.path(stateDir: stateDir, kbID: id))
    }

    /// Integer column values of a KB table, sorted.
    func kbIntegers(_ column: String, table: String, kbID: Int64 = 1) throws -> [Int64] {
        try kb(kbID).rows("SELECT \(SQLIdentifier.quote(column)) FROM \(SQLIdentifier.quote(table)) ORDER BY 1").map {
            if case .integer(let value) = $0[0] { return value }
            return Int64.min
        }
    }

    /// Integer column values in Postgres, sorted.
    func sourceIntegers(_ column: String, table: String) throws -> [Int64] {
        let result = try admin.execute("SELECT \(SQLIdentifier.quote(column)) FROM \(self.table(table)) ORDER BY 1")
        return (0..<result.rowCount).map { Int64(result.string($0, 0)!)! }
    }
}
