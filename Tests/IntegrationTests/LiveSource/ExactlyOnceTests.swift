import ConnectorCore
import Foundation
import PostgresClient
import SQLiteStore
import Testing

/// "No row lost, none twice" against a source that changes while and between runs.
@Suite("Exactly once under change", .enabled(if: TestDatabase.isAvailable, TestDatabase.skipReason), .serialized)
struct ExactlyOnceTests {
    func seed(_ scratch: Scratch, rows: Int, index: Bool = true) throws {
        try scratch.sql("""
            CREATE TABLE {s}.events (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL, note text);
            INSERT INTO {s}.events SELECT g, '2026-01-01'::timestamptz + g * interval '1 s', 'v1'
            FROM generate_series(1, \(rows)) g;
            """)
        if index { try scratch.sql("CREATE INDEX ON {s}.events (updated_at, id)") }
    }

    /// (count, distinct ids) of the KB table.
    func counts(_ scratch: Scratch, table: String = "events") throws -> [SQLiteValue] {
        try scratch.kb().rows("SELECT count(*), count(DISTINCT id) FROM \(SQLIdentifier.quote(table))").first!
    }

    @Test func aCheckpointOfTheJobWinsOverItsExplicitCursorOnResume() throws {
        let scratch = try Scratch()
        try seed(scratch, rows: 5_000)
        let cursor = Checkpoint(kind: "timestamptz", column: nil, value: "2026-01-01 00:16:40+00")  // id 1000
        let spec = scratch.spec(table: "events", batchRows: 250, resume: cursor)
        let first = scratch.extractor(spec, jobID: "explicit")
        let stopped = try first.run { progress in if progress.batches == 4 { first.stop() } }
        #expect(stopped.state == .stopped)
        let resumed = try scratch.extract(spec, jobID: "explicit")
        #expect(resumed.state == .completed)
        // The dispatch's cursor is inclusive (`>=`, as a sync's start_cursor): id 1000 is read too.
        #expect(resumed.resumedFrom?.tiebreaker.first?.value == "1999")
        #expect(try counts(scratch) == [.integer(4_001), .integer(4_001)])
        #expect(try scratch.kbIntegers("id", table: "events") == Array(1000...5000))
    }

    @Test func aRowUpdatedAheadOfTheCursorWhileTheJobRunsLandsOnceWithItsLatestVersion() throws {
        let scratch = try Scratch()
        try seed(scratch, rows: 3_000)
        var settings = scratch.connection
        settings.maxSnapshotSeconds = 0  // a fresh snapshot per batch: later batches see the update
        let spec = scratch.spec(table: "events", batchRows: 100)
        let extractor = Extractor(spec: spec, jobID: "moving", connection: settings, stateDir: scratch.stateDir, logger: scratch.logger)
        var moved = false
        let result = try extractor.run { progress in
            guard !moved, progress.batches == 3 else { return }
            moved = true
            // Rows already landed move past the end of the table: the job reads them again.
            _ = try? scratch.sql("UPDATE {s}.events SET updated_at = '2027-01-01', note = 'v2' WHERE id <= 50")
        }
        #expect(result.state == .completed)
        // The 50 rows again (the catch-up after the load by key), and the high-water mark's own row.
        #expect(result.rowsMerged == 51)
        #expect(try counts(scratch) == [.integer(3_000), .integer(3_000)])
        let notes = try scratch.kb().rows("SELECT note, count(*) FROM events WHERE id <= 50 GROUP BY note")
        #expect(notes == [[.text("v2"), .integer(50)]])
    }

    @Test func aRerunAfterUpdatesMergesByKeyInsteadOfFailing() throws {
        let scratch = try Scratch()
        try seed(scratch, rows: 1_000)
        let spec = scratch.spec(table: "events", batchRows: 300, keyColumns: ["id"])
        #expect(try scratch.extract(spec, jobID: "rerun").state == .completed)
        try scratch.sql("UPDATE {s}.events SET updated_at = now(), note = 'v2' WHERE id IN (1, 500)")
        let second = try scratch.extract(spec, jobID: "rerun")
        #expect(second.state == .completed)
        // The two updated rows, and the checkpoint's own row: an incremental run reads the
        // checkpoint's cursor value again (rows committed later with that value must land).
        #expect(second.rowsLanded == 3 && second.rowsMerged == 3)
        #expect(try counts(scratch) == [.integer(1_000), .integer(1_000)])
        #expect(try scratch.kb().rows("SELECT id FROM events WHERE note = 'v2' ORDER BY id") == [[.integer(1)], [.integer(500)]])
    }

    @Test func aLateCommitIsReReadByTheNextRun() throws {
        let scratch = try Scratch()
        try seed(scratch, rows: 1_000)
        // A writer opens its transaction (now() is fixed at its start) before the run reads...
        let writer = try TestDatabase.connect()
        try writer.execute("BEGIN; SELECT now()")
        try writer.execute("INSERT INTO \(scratch.table("events")) VALUES (5000, now(), 'late')")
        // ...the run reads past that instant (rows stamped later exist) and completes...
        try scratch.sql("INSERT INTO {s}.events SELECT g, now() + interval '1 hour', 'v1' FROM generate_series(1001, 1100) g")
        let spec = scratch.spec(table: "events", batchRows: 200)
        let first = try scratch.extract(spec, jobID: "late")
        #expect(first.rowsLanded - first.rowsMerged == 1_100)
        #expect(first.checkpoint?.rereadFrom != nil)
        // ...then the writer commits a row whose cursor is behind the checkpoint.
        try writer.execute("COMMIT")
        let second = try scratch.extract(spec, jobID: "late")
        #expect(second.state == .completed)
        #expect(try scratch.kb().rows("SELECT note FROM events WHERE id = 5000") == [[.text("late")]])
        #expect(try counts(scratch) == [.integer(1_101), .integer(1_101)])
    }

    @Test func aCursorMovedBackwardsIsCaughtWithinTheLookback() throws {
        let scratch = try Scratch()
        try seed(scratch, rows: 1_000)
        var settings = scratch.connection
        settings.cursorLookbackSeconds = 120
        let spec = scratch.spec(table: "events", batchRows: 100)
        let run = { try Extractor(spec: spec, jobID: "back", connection: settings, stateDir: scratch.stateDir, logger: scratch.logger).run() }
        #expect(try run().state == .completed)
        // id 10's cursor moves back 60 s before the last checkpoint (1000 s after the start).
        try scratch.sql("UPDATE {s}.events SET updated_at = '2026-01-01'::timestamptz + interval '940 s', note = 'back' WHERE id = 10")
        let second = try run()
        #expect(second.rowsMerged >= 1)
        #expect(try scratch.kb().rows("SELECT note FROM events WHERE id = 10") == [[.text("back")]])
        #expect(try counts(scratch) == [.integer(1_000), .integer(1_000)])
    }

    @Test func anEmptyCursorObjectMeansAFullExtract() throws {
        let spec = try JobSpec.decode(json: """
            {"kb_id": 1, "dest_table": "t", "cursor": {}, "placement": "local",
             "source": {"kind": "postgres", "connection_ref": "c", "table": "t", "cursor_column": "u"}}
            """)
        #expect(spec.cursor == nil)
    }
}
