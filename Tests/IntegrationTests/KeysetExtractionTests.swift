import ConnectorCore
import Foundation
import SQLiteStore
import Testing

@Suite("Keyset extraction", .enabled(if: TestDatabase.isAvailable, TestDatabase.skipReason))
struct KeysetExtractionTests {
    /// 1,000 rows whose cursor repeats in runs of 7, so ties straddle every batch boundary.
    func seedTies(_ scratch: Scratch) throws {
        try scratch.sql("""
            CREATE TABLE {s}.events (id bigint PRIMARY KEY, updated_at timestamptz, title text);
            INSERT INTO {s}.events SELECT g, '2026-01-01'::timestamptz + (g / 7) * interval '1 second', 'e' || g
            FROM generate_series(1, 1000) g;
            CREATE INDEX ON {s}.events (updated_at, id);
            """)
    }

    @Test(arguments: [1, 3, 7, 50, 999, 1000, 5000])
    func tiesAcrossBatchBoundariesLoseNoRowAndDuplicateNone(batchRows: Int) throws {
        let scratch = try Scratch.byCursor()
        try seedTies(scratch)
        let result = try scratch.extract(scratch.spec(table: "events", batchRows: batchRows))
        #expect(result.state == .completed)
        #expect(result.rowsLanded == 1000)
        #expect(try scratch.kbIntegers("id", table: "events") == Array(1...1000))
    }

    @Test func nullCursorsAreExtractedInTheInitialPassAndCounted() throws {
        let scratch = try Scratch.byCursor()
        try scratch.sql("""
            CREATE TABLE {s}.events (id int PRIMARY KEY, updated_at timestamptz, title text);
            INSERT INTO {s}.events SELECT g, CASE WHEN g % 10 = 0 THEN NULL ELSE '2026-01-01'::timestamptz + g * interval '1 ms' END, 'e'
            FROM generate_series(1, 100) g;
            """)
        let first = try scratch.extract(scratch.spec(table: "events", batchRows: 4), jobID: "nulls")
        #expect(first.rowsLanded == 100)
        #expect(first.nullCursorRows == 10)
        #expect(try scratch.kbIntegers("id", table: "events") == Array(1...100))

        // An incremental run reads only cursor values from its checkpoint's on (that row again,
        // merged) and reports the NULLs it left.
        try scratch.sql("INSERT INTO {s}.events VALUES (101, NULL, 'late null'), (102, '2027-01-01', 'late value')")
        let second = try scratch.extract(scratch.spec(table: "events", batchRows: 4), jobID: "nulls")
        #expect(second.rowsLanded == 2 && second.rowsMerged == 1)
        #expect(second.nullCursorRowsSkipped == 11)
        #expect(try scratch.kbIntegers("id", table: "events") == Array(1...100) + [102])
    }

    @Test func microsecondCursorsRoundTripExactly() throws {
        let scratch = try Scratch.byCursor()
        try scratch.sql("""
            CREATE TABLE {s}.events (id int PRIMARY KEY, updated_at timestamptz NOT NULL);
            INSERT INTO {s}.events SELECT g, '2026-06-01 00:00:00+00'::timestamptz + g * interval '1 microsecond' + (g % 3) * interval '1 hour'
            FROM generate_series(1, 60) g;
            """)
        let result = try scratch.extract(scratch.spec(table: "events", batchRows: 1))
        #expect(result.rowsLanded == 60)
        #expect(try scratch.kbIntegers("id", table: "events") == Array(1...60))
        #expect(result.checkpoint?.value == "2026-06-01 02:00:00.000059+00")
    }

    @Test func numericCursorsKeepEveryDigit() throws {
        let scratch = try Scratch.byCursor()
        try scratch.sql("""
            CREATE TABLE {s}.ledger (id int PRIMARY KEY, seq numeric NOT NULL);
            INSERT INTO {s}.ledger SELECT g, 12345678901234567890.000000000001 + (g / 2) * 0.000000000001
            FROM generate_series(1, 40) g;
            """)
        let result = try scratch.extract(scratch.spec(table: "ledger", cursor: "seq", batchRows: 3))
        #expect(try scratch.kbIntegers("id", table: "ledger") == Array(1...40))
        #expect(result.checkpoint?.value == "12345678901234567890.000000000021")
        #expect(result.checkpoint?.tiebreaker == [.init(column: "id", value: "40")])
    }

    @Test func textCursorsCompareAsPostgresCompares() throws {
        let scratch = try Scratch.byCursor()
        try scratch.sql("""
            CREATE TABLE {s}.people (id int PRIMARY KEY, name text NOT NULL);
            INSERT INTO {s}.people VALUES (1, 'b'), (2, 'B'), (3, 'a'), (4, 'A'), (5, 'ä'), (6, 'a b'), (7, 'a'), (8, 'Z'), (9, ''), (10, 'a');
            """)
        _ = try scratch.extract(scratch.spec(table: "people", cursor: "name", batchRows: 2))
        #expect(try scratch.kbIntegers("id", table: "people") == Array(1...10))
    }

    @Test func aSnapshotPassPagesByPrimaryKey() throws {
        let scratch = try Scratch.byCursor()
        try scratch.sql("""
            CREATE TABLE {s}.items (region text, id int, PRIMARY KEY (region, id));
            INSERT INTO {s}.items SELECT r, g FROM unnest(ARRAY['eu','us','ap']) r, generate_series(1, 30) g;
            """)
        let result = try scratch.extract(scratch.spec(table: "items", cursor: nil, batchRows: 7))
        #expect(result.rowsLanded == 90)
        #expect(try scratch.kb().rows("SELECT count(DISTINCT region || id) FROM items").first == [.integer(90)])
    }

    @Test func anExplicitCursorWinsAndStartsAtItsValue() throws {
        let scratch = try Scratch.byCursor()
        try seedTies(scratch)
        let cursor = Checkpoint(kind: "timestamp", column: nil, value: "2026-01-01T00:02:00Z")
        let result = try scratch.extract(scratch.spec(table: "events", batchRows: 100, resume: cursor))
        // Second 120 holds ids 840..846 (id / 7 == 120): the cursor is inclusive (`>=`), so they land
        // with everything after.
        #expect(try scratch.kbIntegers("id", table: "events") == Array(840...1000))
        #expect(result.resumedFrom == cursor)
    }

    @Test func batchCostDoesNotGrowWithProgress() throws {
        let scratch = try Scratch.byCursor()
        try scratch.sql("""
            CREATE TABLE {s}.big (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL, pad text);
            INSERT INTO {s}.big SELECT g, '2026-01-01'::timestamptz + (g / 3) * interval '1 second', repeat('x', 100)
            FROM generate_series(1, 200000) g;
            CREATE INDEX ON {s}.big (updated_at, id);
            ANALYZE {s}.big;
            """)
        let spec = scratch.spec(table: "big", batchRows: 1000)
        let source = try SourceSession.open(scratch.connection, jobID: "explain")
        let table = try SourceCatalog.describe(schema: scratch.schema, table: "big", on: source)
        let plan = try ExtractPlan.make(spec: spec, table: table)
        func buffers(after: [String]?) throws -> Int {
            let query = KeysetQuery.make(plan: plan, position: KeysetPosition(pass: .values, after: after), limit: 1000)
            let explained = try source.query("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + query.sql, query.parameters, types: query.parameterTypes)
            let json = try JSONParser.parse(explained.string(0, 0)!)
            guard case .array(let plans) = json, let top = plans.first?["Plan"],
                  case .number(let hit)? = top["Shared Hit Blocks"], case .number(let read)? = top["Shared Read Blocks"] else {
                Issue.record("unexpected EXPLAIN output")
                return -1
            }
            #expect(top["Node Type"] == .string("Limit"))
            return Int(hit)! + Int(read)!
        }
        let early = try buffers(after: ["2026-01-01 00:00:10+00", "30"])
        let late = try buffers(after: ["2026-01-01 18:30:00+00", "199800"])
        #expect(early > 0)
        // A keyset batch touches the same number of pages wherever it starts; OFFSET would read ~all of them.
        #expect(late <= early * 2 + 10)
    }
}
