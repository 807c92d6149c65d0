import ConnectorCore
import Foundation
import SQLiteStore
import Testing

extension Scratch {
    func deleting(_ spec: JobSpec, _ choice: DeletesChoice) -> JobSpec {
        var spec = spec
        spec.deletes = choice
        return spec
    }

    /// Text key values of a KB table in the KB's order, as UTF-8 bytes.
    func kbKeys(_ columns: [String], table: String) throws -> [[String]] {
        let list = columns.map { SQLIdentifier.quote($0) }.joined(separator: ", ")
        return try kb().rows("SELECT \(list) FROM \(SQLIdentifier.quote(table)) ORDER BY \(list)").map { $0.map(\.description) }
    }

    /// `text` columns are ordered byte by byte, as the KB orders them.
    func sourceKeys(_ columns: [String], table: String, text: Set<String>) throws -> [[String]] {
        let list = columns.map { SQLIdentifier.quote($0) }.joined(separator: ", ")
        let order = columns.map { SQLIdentifier.quote($0) + (text.contains($0) ? " COLLATE \"C\"" : "") }.joined(separator: ", ")
        let result = try admin.execute("SELECT \(list) FROM \(self.table(table)) ORDER BY \(order)")
        return (0..<result.rowCount).map { row in (0..<columns.count).map { result.string(row, $0) ?? "NULL" } }
    }
}

/// `deletes` on a local KB: rows gone from the source leave the KB (hard) or are marked (soft).
@Suite("Deletes reach the KB", .enabled(if: TestDatabase.isAvailable, TestDatabase.skipReason))
struct DeletesTests {
    func seed(_ scratch: Scratch, rows: Int = 50) throws {
        try scratch.sql("""
            CREATE TABLE {s}.events (id int PRIMARY KEY, updated_at timestamptz NOT NULL, title text);
            INSERT INTO {s}.events SELECT g, '2026-01-01'::timestamptz + g * interval '1 minute', 'v1'
            FROM generate_series(1, \(rows)) g;
            """)
    }

    @Test func hardRemovesTheRowsDeletedAtTheSource() throws {
        let scratch = try Scratch()
        try seed(scratch)
        let spec = scratch.deleting(scratch.spec(table: "events", batchRows: 7), .hard)
        let first = try scratch.extract(spec, jobID: "j")
        #expect(first.rowsDeleted == 0 && first.rowsLanded == 50)
        try scratch.sql("DELETE FROM {s}.events WHERE id IN (1, 2, 17, 49, 50)")
        let second = try scratch.extract(spec, jobID: "j")
        #expect(second.rowsDeleted == 5)
        #expect(try scratch.kbIntegers("id", table: "events") == scratch.sourceIntegers("id", table: "events"))
        // keep (the default) leaves them: the same job without deletes removes nothing.
        try scratch.sql("DELETE FROM {s}.events WHERE id = 3")
        let kept = try scratch.extract(scratch.spec(table: "events", batchRows: 7), jobID: "j")
        #expect(kept.rowsDeleted == nil)
        #expect(try scratch.kbIntegers("id", table: "events").contains(3))
    }

    @Test func softMarksAndAKeyThatComesBackLosesTheMark() throws {
        let scratch = try Scratch()
        try seed(scratch)
        let spec = scratch.deleting(scratch.spec(table: "events", batchRows: 10), .soft)
        try scratch.extract(spec, jobID: "s")
        try scratch.sql("DELETE FROM {s}.events WHERE id IN (3, 4, 5)")
        #expect(try scratch.extract(spec, jobID: "s").rowsDeleted == 3)
        let marked = { try scratch.kb().rows("SELECT id FROM events WHERE _timbal_deleted_at IS NOT NULL ORDER BY id").map(\.[0]) }
        #expect(try marked() == [.integer(3), .integer(4), .integer(5)])
        #expect(try scratch.kbIntegers("id", table: "events") == Array(1...50))
        // 3 comes back newer than the checkpoint: the extract lands it again and clears the mark.
        // 4 comes back with its old cursor value, which no incremental read reaches: the
        // reconciliation finds it at the source and clears the mark.
        try scratch.sql("""
            INSERT INTO {s}.events VALUES (3, '2027-01-01', 'back'), (4, '2026-01-01 00:04', 'old');
            """)
        let third = try scratch.extract(spec, jobID: "s")
        #expect(third.rowsDeleted == 0 && third.rowsLanded >= 1)
        #expect(try marked() == [.integer(5)])
        #expect(try scratch.kb().rows("SELECT title FROM events WHERE id = 3") == [[.text("back")]])
        // A keep run after it re-lands a marked row too: the mark goes whatever the run's deletes.
        try scratch.sql("INSERT INTO {s}.events VALUES (5, '2027-02-01', 'again')")
        try scratch.extract(scratch.spec(table: "events", batchRows: 10), jobID: "s")
        #expect(try marked() == [])
    }

    @Test func textAndCompositeKeysWalkInByteOrder() throws {
        let scratch = try Scratch()
        // A linguistic collation when the server has one, so Postgres's own order differs from the KB's.
        let collations = try scratch.admin.execute("SELECT collname FROM pg_collation WHERE collname IN ('en-x-icu', 'und-x-icu', 'en_US.utf8', 'en_US') ORDER BY 1 LIMIT 1")
        let collate = collations.rowCount == 1 ? " COLLATE \(SQLIdentifier.quote(collations.string(0, 0)!))" : ""
        try scratch.sql("""
            CREATE TABLE {s}.names (tenant int, name text\(collate), note text, PRIMARY KEY (tenant, name));
            INSERT INTO {s}.names SELECT t, n, 'x' FROM generate_series(1, 3) t,
              unnest(ARRAY['a', 'B', 'b', 'Z', 'é', 'e', 'ä', 'Ä', 'ab', 'a b', 'a-b', 'ß', 'ſ', '日本', '🙂', 'zz', 'Zz', '_x', ' lead']) n;
            CREATE TABLE {s}.words (word varchar(20)\(collate) PRIMARY KEY, note text);
            INSERT INTO {s}.words SELECT n, 'x' FROM unnest(ARRAY['apple', 'Apple', 'éclair', 'Eclair', 'zebra', 'Zebra', 'ángel', 'angel']) n;
            """)
        let names = scratch.deleting(scratch.spec(table: "names", cursor: nil, batchRows: 5, mode: .append), .hard)
        let words = scratch.deleting(scratch.spec(table: "words", cursor: nil, batchRows: 3, mode: .append), .hard)
        try scratch.extract(names, jobID: "n")
        try scratch.extract(words, jobID: "w")
        try scratch.sql("""
            DELETE FROM {s}.names WHERE name IN ('B', 'é', 'Ä', '🙂', ' lead') OR (tenant = 2 AND name IN ('a', 'ß'));
            DELETE FROM {s}.words WHERE word IN ('Apple', 'ángel', 'zebra');
            """)
        #expect(try scratch.extract(names, jobID: "n").rowsDeleted == 17)
        #expect(try scratch.extract(words, jobID: "w").rowsDeleted == 3)
        #expect(try scratch.kbKeys(["tenant", "name"], table: "names") == scratch.sourceKeys(["tenant", "name"], table: "names", text: ["name"]))
        #expect(try scratch.kbKeys(["word"], table: "words") == scratch.sourceKeys(["word"], table: "words", text: ["word"]))
    }

    @Test func thePassKeepsToTheJobsRateCap() throws {
        let scratch = try Scratch()
        try seed(scratch, rows: 3000)
        let spec = scratch.deleting(scratch.spec(table: "events", batchRows: 1000), .hard)
        try scratch.extract(spec, jobID: "p")
        try scratch.sql("DELETE FROM {s}.events WHERE id <= 10")
        // 2,990 keys at 2,000 a second (a burst of 1/20 s first): at least about 1.4 s, though the
        // catch-up reads a single row.
        var paced = spec
        paced.pacing = Pacing(maxRowsPerSec: 2000)
        let result = try scratch.extract(paced, jobID: "p")
        #expect(result.rowsDeleted == 10 && result.rowsLanded <= 1)
        #expect(result.durationSeconds >= 1.3, "\(result.durationSeconds)")
    }

    @Test func truncateWithAndWithoutRestartIdentity() throws {
        let scratch = try Scratch()
        try scratch.sql("""
            CREATE TABLE {s}.orders (id bigserial PRIMARY KEY, updated_at timestamptz NOT NULL DEFAULT now(), title text);
            INSERT INTO {s}.orders (title) SELECT 'old' FROM generate_series(1, 30);
            """)
        let spec = scratch.deleting(scratch.spec(table: "orders", batchRows: 8), .hard)
        try scratch.extract(spec, jobID: "o")
        try scratch.sql("TRUNCATE {s}.orders")
        #expect(try scratch.extract(spec, jobID: "o").rowsDeleted == 30)
        #expect(try scratch.kbIntegers("id", table: "orders") == [])
        // Keys go on from 31 without RESTART IDENTITY.
        try scratch.sql("INSERT INTO {s}.orders (title) SELECT 'new' FROM generate_series(1, 5)")
        try scratch.extract(spec, jobID: "o")
        #expect(try scratch.kbIntegers("id", table: "orders") == Array(31...35))
        // RESTART IDENTITY reuses keys 1...3: the new rows land; 31...35 go.
        try scratch.sql("TRUNCATE {s}.orders RESTART IDENTITY; INSERT INTO {s}.orders (title) SELECT 'reused' FROM generate_series(1, 3)")
        let after = try scratch.extract(spec, jobID: "o")
        #expect(after.rowsDeleted == 5)
        #expect(try scratch.kbIntegers("id", table: "orders") == [1, 2, 3])
        #expect(try scratch.kb().rows("SELECT DISTINCT title FROM orders") == [[.text("reused")]])
    }
}
