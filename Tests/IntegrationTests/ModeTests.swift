import ConnectorCore
import Foundation
import SQLiteStore
import Testing

@Suite("Write modes", .enabled(if: TestDatabase.isAvailable, TestDatabase.skipReason))
struct ModeTests {
    func seed(_ scratch: Scratch, rows: Int = 50) throws {
        try scratch.sql("""
            CREATE TABLE {s}.events (id int PRIMARY KEY, updated_at timestamptz NOT NULL, title text);
            INSERT INTO {s}.events SELECT g, '2026-01-01'::timestamptz + g * interval '1 minute', 'v1'
            FROM generate_series(1, \(rows)) g;
            """)
    }

    @Test func createRefusesAnExistingTableUnlessTheSameJobResumes() throws {
        let scratch = try Scratch()
        try seed(scratch)
        try scratch.extract(scratch.spec(table: "events", batchRows: 10), jobID: "first")
        #expect { try scratch.extract(scratch.spec(table: "events"), jobID: "second") } throws: {
            "\($0)".hasPrefix(#"dest_table: table "events" already exists in KB 1 (mode create)"#)
        }
        // The same job id continues from its checkpoint: the new row (and whatever it reads again
        // at the checkpoint's own cursor value, merged by key).
        try scratch.sql("INSERT INTO {s}.events VALUES (51, '2027-01-01', 'new')")
        let rerun = try scratch.extract(scratch.spec(table: "events", batchRows: 10), jobID: "first")
        #expect(rerun.rowsLanded - rerun.rowsMerged == 1)
        #expect(try scratch.kbIntegers("id", table: "events") == Array(1...51))
    }

    @Test func appendAddsNewKeysAndMergesKnownOnes() throws {
        let scratch = try Scratch()
        try seed(scratch)
        try scratch.extract(scratch.spec(table: "events", mode: .append), jobID: "a")
        try scratch.sql("INSERT INTO {s}.events VALUES (51, '2027-01-01', 'new')")
        let second = try scratch.extract(scratch.spec(table: "events", mode: .append), jobID: "b")
        #expect(second.rowsLanded - second.rowsMerged == 1 && second.rowsMerged >= 50)
        #expect(try scratch.kbIntegers("id", table: "events") == Array(1...51))
    }

    @Test func appendAddsTheColumnsTheTableLacks() throws {
        let scratch = try Scratch()
        try seed(scratch)
        try scratch.extract(scratch.spec(table: "events", columns: ["id", "updated_at"]), jobID: "narrow")
        let wide = try scratch.extract(scratch.spec(table: "events", mode: .append), jobID: "wide")
        #expect(wide.rowsMerged == 50)
        #expect(try scratch.kb().rows("SELECT count(*) FROM events WHERE title = 'v1'") == [[.integer(50)]])
    }

    @Test func upsertMergesOnTheKeyColumns() throws {
        let scratch = try Scratch()
        try seed(scratch)
        try scratch.extract(scratch.spec(table: "events", mode: .upsert, keyColumns: ["id"]), jobID: "u1")
        try scratch.sql("UPDATE {s}.events SET title = 'v2', updated_at = '2027-01-01' WHERE id IN (3, 4)")
        let second = try scratch.extract(scratch.spec(table: "events", mode: .upsert, keyColumns: ["id"]), jobID: "u1")
        #expect(second.rowsLanded >= 2 && second.rowsLanded == second.rowsMerged)  // the two updated rows (and the checkpoint's own), merged
        #expect(try scratch.kbIntegers("id", table: "events") == Array(1...50))
        let titles = try scratch.kb().rows("SELECT title FROM events WHERE id IN (2, 3, 4) ORDER BY id").map { $0[0] }
        #expect(titles == [.text("v1"), .text("v2"), .text("v2")])
    }

    @Test func upsertRefusesATableWithoutThatKey() throws {
        let scratch = try Scratch()
        try seed(scratch)
        try scratch.extract(scratch.spec(table: "events"), jobID: "plain")
        #expect { try scratch.extract(scratch.spec(table: "events", mode: .upsert, keyColumns: ["title"]), jobID: "up") } throws: {
            "\($0)".hasPrefix(#"key_columns: existing table "events" in KB 1 has no primary key or unique index on (title)"#)
        }
    }

    @Test func keyColumnsBecomeThePrimaryKeyAndJoinTheProjection() throws {
        let scratch = try Scratch()
        try seed(scratch)
        try scratch.extract(scratch.spec(table: "events", columns: ["title"], keyColumns: ["id"]))
        let pk = try scratch.kb().rows("SELECT name FROM pragma_table_info('events') WHERE pk > 0").map { $0[0] }
        #expect(pk == [.text("id")])
        let columns = try scratch.kb().rows("SELECT name FROM pragma_table_info('events') ORDER BY cid").map { $0[0] }
        #expect(columns == [.text("title"), .text("id")])
    }

    @Test func replaceSwapsInTheNewTableAtomically() throws {
        let scratch = try Scratch()
        try seed(scratch, rows: 100)
        try scratch.extract(scratch.spec(table: "events"), jobID: "original")
        try scratch.sql("UPDATE {s}.events SET title = 'v2'; DELETE FROM {s}.events WHERE id > 60")

        // Stop the replace after its first batch: readers still see the old table, whole.
        let extractor = scratch.extractor(scratch.spec(table: "events", batchRows: 10, mode: .replace), jobID: "rebuild")
        let stopped = try extractor.run(onProgress: { _ in extractor.stop() })
        #expect(stopped.state == .stopped)
        let reader = try scratch.kb()
        #expect(try reader.rows("SELECT count(*), min(title), max(title) FROM events").first == [.integer(100), .text("v1"), .text("v1")])

        let finished = try scratch.extract(scratch.spec(table: "events", batchRows: 10, mode: .replace), jobID: "rebuild")
        #expect(finished.state == .completed)
        #expect(finished.totalRowsLanded == 60)
        #expect(try reader.rows("SELECT count(*), min(title), max(title) FROM events").first == [.integer(60), .text("v2"), .text("v2")])
        #expect(try reader.rows("SELECT count(*) FROM sqlite_schema WHERE name LIKE '_timbal_replace_%'").first == [.integer(0)])
    }
}
