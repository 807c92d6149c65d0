import ConnectorCore
import Foundation
import Logging
import PostgresClient
import SQLiteStore
import Testing

@Suite("Source protection and recovery", .enabled(if: TestDatabase.isAvailable, TestDatabase.skipReason))
struct SourceProtectionTests {
    @Test func aStatementTimeoutShrinksTheBatchAndTheJobStillCompletesExactly() throws {
        let scratch = try Scratch()
        // Each row costs 2 ms to produce, so a 200-row batch (0.4 s) overruns a 150 ms statement timeout.
        try scratch.sql("""
            CREATE TABLE {s}.base (id int PRIMARY KEY, updated_at timestamptz NOT NULL);
            INSERT INTO {s}.base SELECT g, '2026-01-01'::timestamptz + g * interval '1 s' FROM generate_series(1, 400) g;
            CREATE INDEX ON {s}.base (updated_at, id);
            CREATE FUNCTION {s}.slow(int) RETURNS int LANGUAGE sql STABLE AS 'SELECT $1 FROM pg_sleep(0.002)';
            CREATE VIEW {s}.slow_view AS SELECT id, updated_at, {s}.slow(id) AS v FROM {s}.base;
            """)
        var settings = scratch.connection
        settings.statementTimeoutMs = 150
        let spec = scratch.spec(table: "slow_view", batchRows: 200, keyColumns: ["id"])
        let extractor = Extractor(spec: spec, jobID: "timeouts", connection: settings, stateDir: scratch.stateDir,
                                  logger: scratch.logger, retry: RetryPolicy(maxAttempts: 6, baseDelay: 0.01, maxDelay: 0.05))
        let result = try extractor.run()
        #expect(result.state == .completed)
        #expect(result.retries >= 1)
        #expect(try scratch.kbIntegers("id", table: "slow_view") == Array(1...400))
        #expect(try scratch.kbIntegers("v", table: "slow_view") == Array(1...400))
    }

    @Test func permanentFailuresFailAtOnceWithTheServerReason() throws {
        let scratch = try Scratch()
        try scratch.sql("""
            CREATE TABLE {s}.secret (id int PRIMARY KEY, updated_at timestamptz);
            DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'timbal_nobody') THEN CREATE ROLE timbal_nobody LOGIN; END IF; END $$;
            GRANT USAGE ON SCHEMA {s} TO timbal_nobody;
            """)
        var settings = scratch.connection
        settings.dsn = TestDatabase.dsn.replacingOccurrences(of: "postgres@", with: "timbal_nobody@")
        let extractor = Extractor(spec: scratch.spec(table: "secret"), jobID: "denied", connection: settings,
                                  stateDir: scratch.stateDir, logger: scratch.logger,
                                  retry: RetryPolicy(maxAttempts: 3, baseDelay: 0.01))
        #expect { try extractor.run() } throws: { error in
            "\(error)".contains("permission denied") && "\(error)".contains("42501")
        }
    }

    @Test(.enabled(if: PrivateServer.isAvailable, PrivateServer.skipReason))
    func aPostgresRestartMidJobIsRetriedAndEveryRowLandsOnce() throws {
        let server = try PrivateServer()
        let admin = try PostgresConnection(conninfo: server.dsn)
        try admin.execute("""
            CREATE TABLE events (id int PRIMARY KEY, updated_at timestamptz NOT NULL, note text);
            INSERT INTO events SELECT g, '2026-01-01'::timestamptz + (g / 5) * interval '1 s', 'n' || g FROM generate_series(1, 3000) g;
            """)
        let stateDir = NSTemporaryDirectory() + "timbal-restart-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: stateDir) }
        let spec = JobSpec(kbID: 1, destTable: "events",
                           source: SourceSpec(connectionRef: "private", table: "events", cursorColumn: "updated_at"),
                           requestedBatchRows: 100, pacing: Pacing(batchDelayMs: 50), placement: .local)
        let extractor = Extractor(spec: spec, jobID: "restart", connection: ConnectionSettings(name: "private", dsn: server.dsn),
                                  stateDir: stateDir, logger: Logger(label: "test"),
                                  retry: RetryPolicy(maxAttempts: 10, baseDelay: 0.2, maxDelay: 2))
        let restarted = StopFlagBox()
        let result = try extractor.run(onProgress: { progress in
            if progress.rowsLanded >= 500 && !restarted.value {
                restarted.value = true
                try? server.restart()
            }
        })
        #expect(restarted.value)
        #expect(result.state == .completed)
        #expect(result.retries >= 1)
        let kb = try SQLiteDatabase(path: LocalKB.path(stateDir: stateDir, kbID: 1))
        #expect(try kb.rows("SELECT count(*), count(DISTINCT id), min(id), max(id) FROM events").first
                == [.integer(3000), .integer(3000), .integer(1), .integer(3000)])
    }
}

/// A mutable flag a progress closure can set.
final class StopFlagBox: @unchecked Sendable {
    var value = false
}
