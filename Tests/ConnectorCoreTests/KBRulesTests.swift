import Foundation
import KBRules
import SQLiteStore
import Testing

/// The KB's rules (`KBTarget`, `KBSchemaCheck`, `KBRowWriter`) on real SQLite files, without
/// Postgres: modes, merge by key, schema changes, and what a peer may not slip into DDL.
@Suite("KB rules on SQLite files")
struct KBRulesTests {
    let directory = NSTemporaryDirectory() + "timbal-kbrules-\(UUID().uuidString.prefix(8))"

    func kb() throws -> KBFile {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return try KBFile(path: directory + "/1.sqlite", kbID: 1, label: "KB 1")
    }

    func plan(_ columns: [(String, String, String)] = [("id", "int8", "INTEGER"), ("note", "text", "TEXT")],
              key: [String] = ["id"]) -> KBWritePlan {
        KBWritePlan(columns: columns.map { KBColumn(name: $0.0, sourceType: $0.1, kbType: $0.2) }, mergeKey: key,
                    sourceCatalog: Dictionary(uniqueKeysWithValues: columns.map { ($0.0, $0.1) }), sourceName: "public.t")
    }

    func land(_ kb: KBFile, _ target: KBTarget, job: String, _ rows: [(Int64, String)]) throws {
        let writer = try KBRowWriter(kb: kb, target: target, columns: ["id", "note"], jobID: job)
        try writer.land(checkpoint: nil) { writer in
            for (id, note) in rows {
                try writer.row { statement in
                    try statement.bindInteger(id, at: 1)
                    try statement.bindText(note, at: 2)
                }
            }
            return rows.count
        }
    }

    func rows(_ kb: KBFile, _ table: String = "t") throws -> [[SQLiteValue]] {
        try kb.database.rows("SELECT id, note FROM \"\(table)\" ORDER BY id")
    }

    @Test func createBuildsTheTableAndRefusesAnExistingOne() throws {
        let kb = try kb()
        let target = try KBTarget.prepare(kb: kb, jobID: "a", dest: "t", mode: "create", plan: plan())
        try land(kb, target, job: "a", [(1, "x"), (1, "y")])
        #expect(try rows(kb) == [[.integer(1), .text("y")]])  // merged by key
        let error = #expect(throws: KBError.self) { try KBTarget.prepare(kb: kb, jobID: "b", dest: "t", mode: "create", plan: plan()) }
        #expect(error?.field == "dest_table")
    }

    @Test func replaceSwapsItsStagingTableInAtTheEnd() throws {
        let kb = try kb()
        try land(kb, try KBTarget.prepare(kb: kb, jobID: "a", dest: "t", mode: "create", plan: plan()), job: "a", [(1, "old")])
        let target = try KBTarget.prepare(kb: kb, jobID: "b", dest: "t", mode: "replace", plan: plan())
        try land(kb, target, job: "b", [(2, "new")])
        #expect(try rows(kb) == [[.integer(1), .text("old")]])
        try target.finish(kb: kb, jobID: "b", state: "completed")
        #expect(try rows(kb) == [[.integer(2), .text("new")]])
    }

    @Test func aNewSourceColumnIsAddedAndARetypedOneRefused() throws {
        let kb = try kb()
        _ = try KBTarget.prepare(kb: kb, jobID: "a", dest: "t", mode: "append", plan: plan())
        let wider = plan([("id", "int8", "INTEGER"), ("note", "text", "TEXT"), ("extra", "float8", "REAL")])
        #expect(try KBTarget.prepare(kb: kb, jobID: "b", dest: "t", mode: "append", plan: wider).addedColumns == ["extra"])
        let retyped = plan([("id", "int8", "INTEGER"), ("note", "int4", "INTEGER"), ("extra", "float8", "REAL")])
        let error = #expect(throws: KBError.self) { try KBTarget.prepare(kb: kb, jobID: "c", dest: "t", mode: "append", plan: retyped) }
        #expect(error?.problem.contains("changed type from text to int4") == true)
    }

    @Test func aColumnWhoseSourceNumberChangedIsRefusedAndAnUnknownNumberIsFilledIn() throws {
        let kb = try kb()
        func numbered(_ note: Int?) -> KBWritePlan {
            var plan = plan()
            plan.sourceNumbers = note.map { ["id": 1, "note": $0] }
            return plan
        }
        _ = try KBTarget.prepare(kb: kb, jobID: "a", dest: "t", mode: "append", plan: numbered(2))
        #expect(try kb.database.rows("SELECT column_name, source_table, source_number FROM _timbal_columns ORDER BY position")
                == [[.text("id"), .text("public.t"), .integer(1)], [.text("note"), .text("public.t"), .integer(2)]])
        // Another source table appending into the same KB table: its own numbers, not compared.
        var other = numbered(7)
        other.sourceName = "public.u"
        _ = try KBTarget.prepare(kb: kb, jobID: "u", dest: "t", mode: "append", plan: other)
        _ = try KBTarget.prepare(kb: kb, jobID: "a", dest: "t", mode: "append", plan: numbered(2))
        _ = try KBTarget.prepare(kb: kb, jobID: "a", dest: "t", mode: "append", plan: numbered(nil))  // a plan without numbers
        let error = #expect(throws: KBError.self) { try KBTarget.prepare(kb: kb, jobID: "b", dest: "t", mode: "append", plan: numbered(5)) }
        #expect(error?.field == "source.columns")
        #expect(error?.problem.contains("\"note\"") == true && error?.problem.contains("dropped and added again") == true)
        // Recorded before numbers were kept: the next run records them, and checks from then on.
        try kb.database.execute("UPDATE _timbal_columns SET source_table = NULL, source_number = NULL")
        _ = try KBTarget.prepare(kb: kb, jobID: "a", dest: "t", mode: "append", plan: numbered(5))
        #expect(try kb.database.rows("SELECT source_table, source_number FROM _timbal_columns WHERE column_name = 'note'")
                == [[.text("public.t"), .integer(5)]])
        #expect(throws: KBError.self) { try KBTarget.prepare(kb: kb, jobID: "a", dest: "t", mode: "append", plan: numbered(2)) }
    }

    @Test func aKBFileMadeBeforeColumnNumbersGetsTheirColumn() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/old.sqlite"
        let old = try SQLiteDatabase(path: path)
        try old.execute("""
            CREATE TABLE _timbal_columns (table_name TEXT NOT NULL, position INTEGER NOT NULL, column_name TEXT NOT NULL,
                source_type TEXT NOT NULL, kb_type TEXT NOT NULL, PRIMARY KEY (table_name, position));
            INSERT INTO _timbal_columns VALUES ('t', 1, 'id', 'int8', 'INTEGER');
            """)
        let kb = try KBFile(path: path, kbID: 1, label: "KB 1")
        #expect(try kb.database.rows("SELECT column_name, source_table, source_number FROM _timbal_columns") == [[.text("id"), .null, .null]])
        _ = try KBFile(path: path, kbID: 1, label: "KB 1")  // opened again: nothing to add
    }

    @Test(arguments: ["TEXT); ATTACH '/tmp/x' AS p; --", "TEXT PRIMARY KEY", "text", ""])
    func aKBTypeOutsideTheClosedSetNeverReachesSQL(kbType: String) throws {
        let kb = try kb()
        let error = #expect(throws: KBError.self) {
            try KBTarget.prepare(kb: kb, jobID: "a", dest: "t", mode: "create", plan: plan([("id", "int8", "INTEGER"), ("note", "text", kbType)]))
        }
        #expect(error?.description == "columns.kb_type: column \"note\": \"\(kbType)\" is not one of INTEGER, REAL, TEXT, BLOB")
        #expect(try !kb.tableExists("t"))
        // Widening an existing table checks the type too.
        _ = try KBTarget.prepare(kb: kb, jobID: "b", dest: "t", mode: "append", plan: plan())
        #expect(throws: KBError.self) {
            try KBTarget.prepare(kb: kb, jobID: "c", dest: "t", mode: "append",
                                 plan: plan([("id", "int8", "INTEGER"), ("note", "text", "TEXT"), ("x", "text", kbType)]))
        }
        #expect(try kb.columnNames(of: "t") == ["id", "note"])
    }

    @Test(arguments: ["_timbal_jobs", "_TIMBAL_columns", "sqlite_master", "SQLite_x", "", "a\u{0}b"])
    func reservedAndMalformedTableNamesAreRefusedByTheKBsOwnRule(dest: String) throws {
        let kb = try kb()
        let error = #expect(throws: KBError.self) { try KBTarget.prepare(kb: kb, jobID: "a", dest: dest, mode: "create", plan: plan()) }
        #expect(error?.field == "dest_table")
    }

    @Test func columnNamesWithQuotesStayNamesAndANulIsRefused() throws {
        let kb = try kb()
        let odd = "a\"; DROP TABLE _timbal_jobs; --"
        _ = try KBTarget.prepare(kb: kb, jobID: "a", dest: "t", mode: "create", plan: plan([("id", "int8", "INTEGER"), (odd, "text", "TEXT")]))
        #expect(try kb.columnNames(of: "t") == ["id", odd])
        #expect(try kb.tableExists("_timbal_jobs"))
        #expect(throws: KBError.self) {
            try KBTarget.prepare(kb: kb, jobID: "b", dest: "u", mode: "create", plan: plan([("id", "int8", "INTEGER"), ("x\u{0}", "text", "TEXT")]))
        }
    }

    @Test func aKeyTheBatchDoesNotCarryIsRefusedNotACrash() throws {
        let kb = try kb()
        let target = try KBTarget.prepare(kb: kb, jobID: "a", dest: "t", mode: "create", plan: plan())
        let error = #expect(throws: KBError.self) { try KBRowWriter(kb: kb, target: target, columns: ["note"], jobID: "a") }
        #expect(error?.field == "key_columns")
    }

    @Test func aPreparedStatementIsNeverAScript() throws {
        let kb = try kb()
        #expect(throws: SQLiteError.self) { try kb.database.prepare("SELECT 1; DROP TABLE _timbal_jobs") }
        #expect(throws: SQLiteError.self) { try kb.database.prepare("SELECT 1\u{0}; DROP TABLE _timbal_jobs") }
        #expect(try kb.database.prepare("SELECT 1; -- a comment").step())
        #expect(try kb.tableExists("_timbal_jobs"))
    }
}
