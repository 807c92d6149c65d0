import ConnectorCore
import Foundation
import PostgresClient
import SQLiteStore
import Testing

/// How a read is cut into segments when the indexes only half serve it, and a server that ends
/// idle sessions: each must cost one pass over the table, not one per segment.
@Suite("Segment choice", .enabled(if: TestDatabase.isAvailable, TestDatabase.skipReason), .serialized)
struct SegmentChoiceTests {
    @Test func anIndexOnTheCursorAloneWithHeavyTiesReadsTheTableOnce() throws {
        let scratch = try Scratch.byCursor()
        try scratch.sql("""
            CREATE TABLE {s}.d (id bigint PRIMARY KEY, day date NOT NULL, v text);
            INSERT INTO {s}.d SELECT g, CASE WHEN g <= 30000 THEN DATE '2026-06-01' ELSE DATE '2026-06-02' + g % 50 END, repeat('x', 40)
            FROM generate_series(1, 40000) g;
            CREATE INDEX ON {s}.d (day);
            ANALYZE {s}.d;
            """)
        var settings = scratch.connection
        settings.maxSnapshotSeconds = 0  // short segments would reopen after every batch
        let spec = scratch.spec(table: "d", cursor: "day", batchRows: 2_000)
        let result = try Extractor(spec: spec, jobID: "ties", connection: settings, stateDir: scratch.stateDir, logger: scratch.logger).run()
        #expect(result.rowsLanded == 40_000)
        #expect(result.segments == 1)
        let blocks = try #require(result.heapBlocks), table = try #require(result.tableBlocks)
        #expect(blocks <= 2 * table, "read \(blocks) heap blocks of a \(table)-block table")
        #expect(try scratch.kbIntegers("id", table: "d") == Array(1...40_000))
    }

    @Test func anIndexOnTheCursorAloneWithFewTiesKeepsShortSegments() throws {
        let scratch = try Scratch.byCursor()
        try scratch.sql("""
            CREATE TABLE {s}.e (id bigint PRIMARY KEY, at timestamptz NOT NULL);
            INSERT INTO {s}.e SELECT g, '2026-01-01'::timestamptz + (g / 2) * interval '1 s' FROM generate_series(1, 6000) g;
            CREATE INDEX ON {s}.e (at);
            ANALYZE {s}.e;
            """)
        var settings = scratch.connection
        settings.maxSnapshotSeconds = 0
        let spec = scratch.spec(table: "e", cursor: "at", batchRows: 1_000)
        let result = try Extractor(spec: spec, jobID: "few", connection: settings, stateDir: scratch.stateDir, logger: scratch.logger).run()
        #expect(result.rowsLanded == 6_000)
        #expect(result.segments > 1)  // an index range scan each: no snapshot held for the whole read
        #expect(try scratch.kbIntegers("id", table: "e") == Array(1...6_000))
    }

    @Test func aServerThatEndsIdleSessionsDoesNotEndAPacedHeldRead() throws {
        let isolated = try IsolatedDatabase()
        try isolated.connection.execute("""
            CREATE TABLE events (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL);
            INSERT INTO events SELECT g, '2026-01-01'::timestamptz + (g % 97) * interval '1 s' FROM generate_series(1, 3000) g;
            """)
        try isolated.scratch.admin.execute("ALTER DATABASE \(isolated.name) SET idle_session_timeout = '600ms'")
        var spec = isolated.scratch.spec(table: "events", batchRows: 1_000, pacing: Pacing(batchDelayMs: 1_500))
        spec.source.schema = "public"
        var settings = isolated.settings
        settings.firstLoadByKey = false  // a held segment: cursor order without an index on the cursor
        let result = try Extractor(spec: spec, jobID: "idle", connection: settings,
                                   stateDir: isolated.scratch.stateDir, logger: isolated.scratch.logger).run()
        #expect(result.rowsLanded == 3_000)
        #expect(result.retries == 0 && result.segments == 1, "retries \(result.retries), segments \(result.segments)")
    }
}
