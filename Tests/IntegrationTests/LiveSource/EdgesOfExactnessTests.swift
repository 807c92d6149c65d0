import ConnectorCore
import Foundation
import PostgresClient
import SQLiteStore
import Testing

/// Rows that arrive at the edges of exactness: with the checkpoint's own cursor value (a
/// day-grained cursor, a key that is not monotonic), from a transaction whose `now()` was fixed
/// long before it wrote, and writers in other databases that must not pin the re-read.
@Suite("Edges of exactness", .enabled(if: TestDatabase.isAvailable, TestDatabase.skipReason), .serialized)
struct EdgesOfExactnessTests {
    @Test func aRowCommittedLaterOnTheCheckpointsDayLands() throws {
        let scratch = try Scratch()
        try scratch.sql("""
            CREATE TABLE {s}.d (id bigserial PRIMARY KEY, day date NOT NULL DEFAULT current_date, v text);
            CREATE INDEX ON {s}.d (day);
            INSERT INTO {s}.d (day, v) SELECT current_date - (g % 30), 'old' FROM generate_series(1, 1000) g;
            """)
        let spec = scratch.spec(table: "d", cursor: "day", batchRows: 300)
        // A first load by key, then the catch-up re-reads the high-water mark's day (merged by key).
        let first = try scratch.extract(spec, jobID: "days")
        #expect(first.keyOrderRows == 1_000 && first.rowsLanded - first.rowsMerged == 1_000)
        // W takes an id and stays open; an autocommit insert after it takes the next id.
        let writer = try TestDatabase.connect()
        try writer.execute("BEGIN; INSERT INTO \(scratch.table("d")) (v) VALUES ('late')")
        try scratch.sql("INSERT INTO {s}.d (v) VALUES ('early')")
        let second = try scratch.extract(spec, jobID: "days")
        #expect(second.state == .completed)
        // The checkpoint is (today, id of 'early'); W's row sorts before it.
        try writer.execute("COMMIT")
        let third = try scratch.extract(spec, jobID: "days")
        #expect(third.state == .completed)
        #expect(try scratch.kb().rows("SELECT count(*) FROM d WHERE v = 'late'") == [[.integer(1)]])
        #expect(try scratch.kbIntegers("id", table: "d") == scratch.sourceIntegers("id", table: "d"))
    }

    @Test func uuidKeysAddedOnTheCheckpointsDayAllLand() throws {
        let scratch = try Scratch()
        try scratch.sql("""
            CREATE TABLE {s}.u (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), day date NOT NULL DEFAULT current_date, v int);
            CREATE INDEX ON {s}.u (day, id);
            INSERT INTO {s}.u (v) SELECT g FROM generate_series(1, 200) g;
            """)
        let spec = scratch.spec(table: "u", cursor: "day", batchRows: 64)
        let first = try scratch.extract(spec, jobID: "uuids")
        #expect(first.keyOrderRows == 200 && first.rowsLanded - first.rowsMerged == 200)
        try scratch.sql("INSERT INTO {s}.u (v) SELECT g FROM generate_series(201, 400) g")
        let second = try scratch.extract(spec, jobID: "uuids")
        #expect(second.state == .completed)
        #expect(try scratch.kb().rows("SELECT count(*), count(DISTINCT id), min(v), max(v) FROM u")
                == [[.integer(400), .integer(400), .integer(1), .integer(400)]])
    }

    @Test func aTransactionThatWritesLongAfterItBeganIsReReadByTheNextRun() throws {
        let scratch = try Scratch()
        try scratch.sql("CREATE TABLE {s}.events (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL DEFAULT now(), note text)")
        try scratch.sql("CREATE INDEX ON {s}.events (updated_at, id)")
        // W's now() is fixed here, but it takes no xid until much later.
        let writer = try TestDatabase.connect()
        try writer.execute("BEGIN; SELECT now()")
        try scratch.sql("SELECT pg_sleep(0.05); INSERT INTO {s}.events (id, note) SELECT g, 'v1' FROM generate_series(1, 500) g")
        let spec = scratch.spec(table: "events", batchRows: 100)
        let first = try scratch.extract(spec, jobID: "late-xid")
        #expect(first.rowsLanded - first.rowsMerged == 500)
        try scratch.sql("SELECT pg_sleep(0.05); INSERT INTO {s}.events (id, note) SELECT g, 'v1' FROM generate_series(501, 600) g")
        #expect(try scratch.extract(spec, jobID: "late-xid").rowsLanded >= 100)
        // Now W writes a row stamped with its start, before every checkpoint so far, and commits.
        try writer.execute("INSERT INTO \(scratch.table("events")) (id, note) VALUES (9999, 'late'); COMMIT")
        let last = try scratch.extract(spec, jobID: "late-xid")
        #expect(last.state == .completed)
        #expect(try scratch.kb().rows("SELECT note FROM events WHERE id = 9999") == [[.text("late")]])
        #expect(try scratch.kbIntegers("id", table: "events") == scratch.sourceIntegers("id", table: "events"))
    }

    @Test func anOpenTransactionInAnotherDatabaseDoesNotPinTheReRead() throws {
        // The job reads a database of its own; the long transaction is in the default one.
        let isolated = try IsolatedDatabase()
        let elsewhere = try TestDatabase.connect()
        try elsewhere.execute("BEGIN; SELECT txid_current()")
        let began = try elsewhere.execute("SELECT now()::text").string(0, 0)!
        try isolated.connection.execute("""
            CREATE TABLE events (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL DEFAULT now());
            INSERT INTO events (id) SELECT generate_series(1, 100);
            """)
        var spec = isolated.scratch.spec(table: "events", batchRows: 50)
        spec.source.schema = "public"
        let result = try Extractor(spec: spec, jobID: "other-db", connection: isolated.settings,
                                   stateDir: isolated.scratch.stateDir, logger: isolated.scratch.logger).run()
        #expect(result.rowsLanded == 100)
        let rereadFrom = try #require(result.checkpoint?.rereadFrom)
        let later = try isolated.connection.query("SELECT $1::timestamptz > $2::timestamptz", [rereadFrom, began]).string(0, 0)
        #expect(later == "t", "reread_from \(rereadFrom) is pinned by a transaction of another database (began \(began))")
        try elsewhere.execute("ROLLBACK")
    }

    @Test func aLockTimeoutBeforeTheFirstReadIsRetried() throws {
        let scratch = try Scratch()
        // A nullable cursor: an incremental run counts the rows it cannot read first.
        try scratch.sql("""
            CREATE TABLE {s}.n (id bigint PRIMARY KEY, updated_at timestamptz);
            INSERT INTO {s}.n SELECT g, '2026-01-01'::timestamptz + g * interval '1 s' FROM generate_series(1, 300) g;
            CREATE INDEX ON {s}.n (updated_at, id);
            """)
        var settings = scratch.connection
        settings.lockTimeoutMs = 300
        let spec = scratch.spec(table: "n", batchRows: 100)
        let run = { try Extractor(spec: spec, jobID: "locked", connection: settings, stateDir: scratch.stateDir,
                                  logger: scratch.logger, retry: RetryPolicy(maxAttempts: 20, baseDelay: 0.2, maxDelay: 0.5)).run() }
        let first = try run()
        #expect(first.rowsLanded - first.rowsMerged == 300)
        try scratch.sql("INSERT INTO {s}.n VALUES (301, '2027-01-01')")
        let locker = try TestDatabase.connect()
        try locker.execute("BEGIN; LOCK TABLE \(scratch.table("n")) IN ACCESS EXCLUSIVE MODE")
        // The server itself lets go of the lock 2 s later (the test's thread runs the job).
        let release = "SELECT pg_sleep(2); COMMIT"
        try locker.send(release)
        let second = try run()
        _ = try locker.receive(release)
        #expect(second.state == .completed)
        #expect(second.retries == 0)  // pre-flight retries are not read retries
        #expect(try scratch.kbIntegers("id", table: "n") == Array(1...301))
    }

    @Test func aCursorValueItsTypeCannotHoldIsRefusedByName() throws {
        let scratch = try Scratch()
        try scratch.sql("CREATE TABLE {s}.c (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL)")
        let spec = scratch.spec(table: "c", resume: Checkpoint(kind: "timestamp", column: nil, value: "banana"))
        #expect {
            try scratch.extract(spec)
        } throws: { error in
            let field = (error as? JobSpecError)?.field
            return field == "cursor.value" && "\(error)".contains("banana") && "\(error)".contains("timestamp with time zone")
        }
        let wrongKind = scratch.spec(table: "c", resume: Checkpoint(kind: "uuid", column: nil, value: "2026-01-01"))
        #expect { try scratch.extract(wrongKind) } throws: { ($0 as? JobSpecError)?.field == "cursor.kind" }
    }
}

/// A database of its own for one test (so no other test's transactions are in it); dropped after.
final class IsolatedDatabase {
    let name: String
    let scratch: Scratch
    let connection: PostgresConnection
    let settings: ConnectionSettings

    init() throws {
        scratch = try Scratch()
        name = "timbal_iso_\(UUID().uuidString.prefix(8).lowercased())"
        try scratch.admin.execute("CREATE DATABASE \(name)")
        connection = try PostgresConnection(conninfo: TestDatabase.dsn, overrides: ["dbname": name])
        settings = ConnectionSettings(name: "test", dsn: Self.dsn(TestDatabase.dsn, database: name))
    }

    deinit {
        _ = try? scratch.admin.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }

    /// The test DSN pointed at another database (URI or key=value form).
    static func dsn(_ dsn: String, database: String) -> String {
        if dsn.hasPrefix("postgres://") || dsn.hasPrefix("postgresql://"), var parts = URLComponents(string: dsn) {
            parts.path = "/" + database
            return parts.string ?? dsn
        }
        return dsn + " dbname=\(database)"
    }
}
