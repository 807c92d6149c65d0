import ConnectorCore
import Foundation
import PostgresClient
import SQLiteStore
import Testing

/// DDL between runs, two writers at once, unsound unique indexes and a damaged KB.
@Suite("Schema changes and writers", .enabled(if: TestDatabase.isAvailable, TestDatabase.skipReason), .serialized)
struct SchemaAndWriterTests {
    func seed(_ scratch: Scratch, rows: Int) throws {
        try scratch.sql("""
            CREATE TABLE {s}.events (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL, amount int, note text);
            INSERT INTO {s}.events SELECT g, '2026-01-01'::timestamptz + g * interval '1 s', g, 'n' || g
            FROM generate_series(1, \(rows)) g;
            CREATE INDEX ON {s}.events (updated_at, id);
            """)
    }

    func expectFailure(_ body: () throws -> Void, containing parts: [String]) {
        do {
            try body()
            Issue.record("expected a failure naming \(parts)")
        } catch {
            for part in parts { #expect("\(error)".contains(part), "\(error)") }
        }
    }

    @Test func anAddedSourceColumnIsAddedToTheKBTable() throws {
        let scratch = try Scratch()
        try seed(scratch, rows: 100)
        let spec = scratch.spec(table: "events", mode: .append)
        try scratch.extract(spec, jobID: "first")
        try scratch.sql("ALTER TABLE {s}.events ADD COLUMN region text DEFAULT 'eu'; INSERT INTO {s}.events VALUES (101, '2027-01-01', 1, 'new', 'us')")
        // The same job again: an incremental run, which reads only the new row.
        let second = try scratch.extract(spec, jobID: "first")
        #expect(second.state == .completed)
        let kb = try scratch.kb()
        #expect(try kb.rows("SELECT region FROM events WHERE id IN (1, 101) ORDER BY id") == [[.null], [.text("us")]])
        #expect(try kb.rows("SELECT source_type FROM _timbal_columns WHERE table_name = 'events' AND column_name = 'region'") == [[.text("text")]])
    }

    @Test func aColumnDroppedBetweenStopAndResumeFailsTheResumeNamingIt() throws {
        let scratch = try Scratch()
        try seed(scratch, rows: 2_000)
        let spec = scratch.spec(table: "events", batchRows: 100)
        let first = scratch.extractor(spec, jobID: "drop")
        #expect(try first.run { if $0.batches == 3 { first.stop() } }.state == .stopped)
        try scratch.sql("ALTER TABLE {s}.events DROP COLUMN note")
        expectFailure({ try scratch.extract(spec, jobID: "drop") }, containing: ["\"note\"", "gone"])
        #expect(try scratch.kb().rows("SELECT count(*) FROM events WHERE note IS NULL") == [[.integer(0)]])
    }

    @Test func aRetypedColumnFailsTheNextRunNamingBothTypes() throws {
        let scratch = try Scratch()
        try seed(scratch, rows: 100)
        let spec = scratch.spec(table: "events", mode: .append)
        try scratch.extract(spec, jobID: "first")
        try scratch.sql("ALTER TABLE {s}.events ALTER COLUMN amount TYPE text")
        expectFailure({ try scratch.extract(spec, jobID: "second") }, containing: ["\"amount\"", "integer", "text"])
    }

    /// Same name, same type, another column: the rows already in the KB hold values the source
    /// no longer has, and an incremental run would never read them again.
    @Test(arguments: ["ALTER TABLE {s}.events DROP COLUMN note; ALTER TABLE {s}.events ADD COLUMN note text",
                      "ALTER TABLE {s}.events RENAME COLUMN note TO old_note; ALTER TABLE {s}.events ADD COLUMN note text"])
    func aColumnDroppedAndAddedAgainBetweenRunsFailsTheNextRunNamingIt(ddl: String) throws {
        let scratch = try Scratch()
        try seed(scratch, rows: 100)
        let spec = scratch.spec(table: "events", mode: .append)
        try scratch.extract(spec, jobID: "first")
        try scratch.sql(ddl + "; UPDATE {s}.events SET note = 'now', updated_at = '2027-01-01' WHERE id = 7")
        expectFailure({ try scratch.extract(spec, jobID: "first") }, containing: ["\"note\"", "dropped and added again", "replace"])
        let kb = try scratch.kb()
        #expect(try kb.rows("SELECT count(*), count(*) FILTER (WHERE note = 'n' || id) FROM events") == [[.integer(100), .integer(100)]])
        // A replace rebuilds the table from the source as it is now, and records the new column.
        try scratch.extract(scratch.spec(table: "events", mode: .replace), jobID: "rebuild")
        #expect(try kb.rows("SELECT count(*), count(note), min(note) FROM events") == [[.integer(100), .integer(1), .text("now")]])
        try scratch.extract(spec, jobID: "after")
    }

    @Test func aColumnRetypedDuringARunFailsAtTheNextSegment() throws {
        let scratch = try Scratch()
        try seed(scratch, rows: 3_000)
        var settings = scratch.connection
        settings.maxSnapshotSeconds = 0  // a segment per batch, so the change is seen at once
        let spec = scratch.spec(table: "events", batchRows: 100)
        let extractor = Extractor(spec: spec, jobID: "retype", connection: settings, stateDir: scratch.stateDir, logger: scratch.logger)
        var altered = false
        expectFailure({
            _ = try extractor.run { progress in
                guard !altered, progress.batches == 2 else { return }
                altered = true
                do { try scratch.sql("ALTER TABLE {s}.events ALTER COLUMN amount TYPE bigint") } catch { Issue.record("ALTER failed: \(error)") }
            }
        }, containing: ["\"amount\"", "integer", "bigint"])
    }

    /// A snapshot taken before a table rewrite sees the rewritten table as empty: the segment locks
    /// the table before its snapshot, so a rewrite mid-run loses nothing.
    @Test func aTableRewrittenDuringARunLosesNoRow() throws {
        let scratch = try Scratch()
        try seed(scratch, rows: 3_000)
        var settings = scratch.connection
        settings.maxSnapshotSeconds = 0
        let spec = scratch.spec(table: "events", batchRows: 100)
        let extractor = Extractor(spec: spec, jobID: "rewrite", connection: settings, stateDir: scratch.stateDir, logger: scratch.logger)
        var rewritten = false
        let result = try extractor.run { progress in
            guard !rewritten, progress.batches == 2 else { return }
            rewritten = true
            do { try scratch.sql("VACUUM FULL {s}.events") } catch { Issue.record("VACUUM FULL failed: \(error)") }
        }
        #expect(result.state == .completed && rewritten)
        #expect(try scratch.kbIntegers("id", table: "events") == Array(1...3000))
    }

    @Test func aJobRunsInOneProcessAtATime() throws {
        let scratch = try Scratch()
        try seed(scratch, rows: 100)
        let spec = scratch.spec(table: "events")
        let holder = try LocalKBSink(stateDir: scratch.stateDir, spec: spec, jobID: "solo")
        expectFailure({ try scratch.extract(spec, jobID: "solo") }, containing: ["job solo is already running", "pid="])
        withExtendedLifetime(holder) {}
    }

    @Test func twoJobsWritingOneTableAreNotInterleaved() throws {
        let scratch = try Scratch()
        try seed(scratch, rows: 20_000)
        let slow = scratch.spec(table: "events", batchRows: 500, pacing: Pacing(maxRowsPerSec: 20_000))
        let first = scratch.extractor(slow, jobID: "A")
        let other = scratch.spec(table: "events", mode: .replace)
        var refusal: Error?
        let result = try first.run { progress in
            guard progress.batches == 2, refusal == nil else { return }
            do { try scratch.extract(other, jobID: "B") } catch { refusal = error }
        }
        #expect(result.state == .completed)
        #expect("\(refusal.map { "\($0)" } ?? "none")".contains("being written by another job (job=A"))
        #expect(try scratch.kb().rows("SELECT count(*), count(DISTINCT id) FROM events").first == [.integer(20_000), .integer(20_000)])
    }

    @Test func anInvalidUniqueIndexDoesNotCountAsATieBreaker() throws {
        let scratch = try Scratch()
        try scratch.sql("""
            CREATE TABLE {s}.logs (seq int NOT NULL, msg text);
            INSERT INTO {s}.logs SELECT g / 8, 'm' || g FROM generate_series(1, 1000) g;
            """)
        // CONCURRENTLY cannot run in a transaction block, and fails on the duplicates: an invalid index stays.
        _ = try? scratch.admin.execute("CREATE UNIQUE INDEX CONCURRENTLY logs_seq ON \(scratch.table("logs")) (seq)")
        #expect(try scratch.sql("SELECT count(*) FROM pg_index WHERE NOT indisvalid AND indrelid = '{s}.logs'::regclass").string(0, 0) == "1")
        expectFailure({ try scratch.extract(scratch.spec(table: "logs", cursor: "seq", batchRows: 100)) },
                      containing: ["source.cursor_column", "is not unique"])
    }

    @Test func aMaterializedViewPagesByItsValidUniqueIndex() throws {
        let scratch = try Scratch()
        try scratch.sql("""
            CREATE MATERIALIZED VIEW {s}.totals AS SELECT g AS id, (g % 7) AS bucket FROM generate_series(1, 999) g;
            CREATE UNIQUE INDEX ON {s}.totals (id);
            """)
        let result = try scratch.extract(scratch.spec(table: "totals", cursor: "bucket", batchRows: 50))
        #expect(result.state == .completed)
        #expect(try scratch.kbIntegers("id", table: "totals") == Array(1...999))
    }

    @Test func aDamagedKBIsNotWrittenOn() throws {
        let scratch = try Scratch()
        try seed(scratch, rows: 20_000)
        let spec = scratch.spec(table: "events", batchRows: 2_000)
        let first = scratch.extractor(spec, jobID: "damaged")
        #expect(try first.run { if $0.batches == 5 { first.stop() } }.state == .stopped)
        let path = LocalKB.path(stateDir: scratch.stateDir, kbID: 1)
        let checkpoint = try SQLiteDatabase(path: path)
        try checkpoint.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        let size = try handle.seekToEnd()
        try handle.seek(toOffset: size / 2)
        handle.write(Data(repeating: 0xA5, count: 8_192))
        try handle.close()
        expectFailure({ try scratch.extract(spec, jobID: "damaged") }, containing: ["is damaged", path])
    }
}
