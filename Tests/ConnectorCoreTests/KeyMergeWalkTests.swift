import Foundation
@testable import KBRules
import SQLiteStore
import Testing

/// The pure merge of two sorted key streams, and `KBDeletes` applying its verdicts to a real SQLite
/// table (no Postgres needed).
@Suite("Key merge walk and KB deletes")
struct KeyMergeWalkTests {
    func int(_ values: Int64...) -> KBKey { KBKey(values.map { .integer($0) }) }
    func text(_ values: String...) -> KBKey { KBKey(values.map { .text(Array($0.utf8)) }) }

    @Test func keysTheSourceLacksAreMissing() throws {
        let source = [int(1), int(3), int(4), int(9)]
        let kb = [int(0), int(1), int(2), int(3), int(5), int(9), int(10)]
        #expect(try KeyMergeWalk.missing(source: source, kb: kb) == [int(0), int(2), int(5), int(10)])
        #expect(try KeyMergeWalk.missing(source: [], kb: kb) == kb)
        #expect(try KeyMergeWalk.missing(source: source, kb: []) == [])
    }

    @Test func textComparesAsBytesNotAsSwiftStrings() throws {
        // Byte order: "B" (0x42) < "a" (0x61) < "ab" < "é" (0xC3 0xA9); composed "é" differs from
        // "e" + combining accent, which Swift's String equality would call equal.
        let ordered = [text("B"), text("a"), text("ab"), text("e\u{301}"), text("é")]
        #expect(ordered == ordered.sorted())
        #expect(text("é") != text("e\u{301}"))
        #expect(try KeyMergeWalk.missing(source: [text("a"), text("é")], kb: ordered) == [text("B"), text("ab"), text("e\u{301}")])
    }

    @Test func compositeKeysCompareColumnByColumn() throws {
        let kb = [KBKey([.integer(1), .text(Array("z".utf8))]), KBKey([.integer(2), .text(Array("a".utf8))])]
        #expect(kb[0] < kb[1])
        #expect(try KeyMergeWalk.missing(source: [kb[1]], kb: kb) == [kb[0]])
    }

    @Test func keysOutOfOrderStopTheWalk() throws {
        #expect(throws: KeyMergeWalk.OrderError.self) { try KeyMergeWalk(source: [int(2), int(1)]) }
        #expect(throws: KeyMergeWalk.OrderError.self) { try KeyMergeWalk(source: [int(1), int(1)]) }
        var walk = try KeyMergeWalk(source: [int(1), int(5)])
        #expect(try walk.sourceHas(int(5)))
        #expect(throws: KeyMergeWalk.OrderError.self) { try walk.sourceHas(int(1)) }
    }

    @Test func rangesIncludeTheirEndNotTheirStart() {
        let range = KBKeyRange(after: int(3), through: int(7))
        #expect(!range.contains(int(3)) && range.contains(int(4)) && range.contains(int(7)) && !range.contains(int(8)))
        #expect(KBKeyRange(after: nil, through: nil).contains(int(.min)))
    }

    // MARK: KBDeletes on SQLite

    func table(_ ids: ClosedRange<Int64>) throws -> KBFile {
        let directory = NSTemporaryDirectory() + "timbal-kbdeletes-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let kb = try KBFile(path: directory + "/1.sqlite", kbID: 1, label: "KB 1")
        try kb.database.execute("CREATE TABLE t (id INTEGER, note TEXT, PRIMARY KEY (id))")
        for id in ids { try kb.database.execute("INSERT INTO t VALUES (?, 'x')", [.integer(id)]) }
        return kb
    }

    func ids(_ kb: KBFile, _ sql: String = "SELECT id FROM t ORDER BY id") throws -> [Int64] {
        try kb.database.rows(sql).map { if case .integer(let v) = $0[0] { return v }; return -1 }
    }

    @Test func hardRemovesOnlyInsideTheRange() throws {
        let kb = try table(1...20)
        let deletes = try KBDeletes(kb: kb, table: "t", keyColumns: ["id"], kinds: [.integer], soft: false)
        // Range (5, 10]: the source has 6 and 8; 7, 9 and 10 go, 1...5 and 11...20 are not its business.
        #expect(try deletes.apply(range: KBKeyRange(after: int(5), through: int(10)), present: [int(6), int(8)]) == 3)
        #expect(try ids(kb) == Array(1...6) + [8] + Array(11...20))
        // Applying the same range again changes nothing (a redelivered message).
        #expect(try deletes.apply(range: KBKeyRange(after: int(5), through: int(10)), present: [int(6), int(8)]) == 0)
        // The last range runs to the end of the table, past KBDeletes.chunk keys.
        let big = try table(1...10_000)
        let all = try KBDeletes(kb: big, table: "t", keyColumns: ["id"], kinds: [.integer], soft: false)
        #expect(try all.apply(range: KBKeyRange(after: int(100), through: nil), present: [int(5000)]) == 9_899)
        #expect(try ids(big).count == 101)
        #expect(throws: Error.self) { try all.apply(range: KBKeyRange(after: int(100), through: nil), present: [int(50)]) }
    }

    @Test func softMarksOnceAndUnmarksAKeyThatCameBack() throws {
        let kb = try table(1...5)
        try KBDeletes.prepareSoft(kb: kb, table: "t", sourceName: "public.t")
        let deletes = try KBDeletes(kb: kb, table: "t", keyColumns: ["id"], kinds: [.integer], soft: true)
        #expect(try deletes.apply(range: KBKeyRange(after: nil, through: nil), present: [int(1), int(2), int(5)]) == 2)
        #expect(try ids(kb, "SELECT id FROM t WHERE _timbal_deleted_at IS NOT NULL ORDER BY id") == [3, 4])
        let stamp = try kb.database.rows("SELECT _timbal_deleted_at FROM t WHERE id = 3")[0][0].text ?? ""
        #expect(stamp.utf8.count == 27 && stamp.hasSuffix("Z") && stamp.contains("T"))
        // Marked rows keep their mark (and its time) on the next pass; 4 is back and loses it.
        #expect(try deletes.apply(range: KBKeyRange(after: nil, through: nil), present: [int(1), int(2), int(4), int(5)]) == 0)
        #expect(try ids(kb, "SELECT id FROM t WHERE _timbal_deleted_at IS NOT NULL ORDER BY id") == [3])
        #expect(try kb.database.rows("SELECT _timbal_deleted_at FROM t WHERE id = 3")[0][0].text == stamp)
        #expect(try ids(kb) == [1, 2, 3, 4, 5])
    }

    @Test func softRefusesAColumnThatWouldClash() throws {
        #expect { try KBDeletes.checkNoClash(columns: ["id", "_Timbal_Deleted_At"], sourceName: "public.t") } throws: {
            "\($0)".hasPrefix("deletes: ")
        }
        try KBDeletes.checkNoClash(columns: ["id", "deleted_at"], sourceName: "public.t")
    }

    @Test func aKeyOfAnotherStorageClassStopsTheWalk() throws {
        let kb = try table(1...3)
        // INT (not INTEGER) is no rowid alias, so the column can hold text, as a KB built by hand could.
        try kb.database.execute("CREATE TABLE u (id INT, note TEXT, PRIMARY KEY (id))")
        try kb.database.execute("INSERT INTO u VALUES (1, 'a'), (2, 'b'), ('x', 'text key')")
        let deletes = try KBDeletes(kb: kb, table: "u", keyColumns: ["id"], kinds: [.integer], soft: false)
        #expect { try deletes.apply(range: KBKeyRange(after: nil, through: nil), present: []) } throws: { "\($0)".hasPrefix("deletes: ") }
        #expect(try kb.database.rows("SELECT count(*) FROM u") == [[.integer(3)]])
    }

    /// One-column integer keys take their own walk (`IntegerKeyWalk`); it must agree with the rule
    /// (a KB key inside the range that the source lacks goes, nothing else does) everywhere,
    /// the ends of Int64 and chunk boundaries included.
    @Test func integerKeysAgreeWithTheRuleAtTheEdges() throws {
        var generator = SystemRandomNumberGenerator()
        let edges: [Int64] = [.min, .min + 1, -1, 0, 1, .max - 1, .max]
        for round in 0..<24 {
            let directory = NSTemporaryDirectory() + "timbal-kbdeletes-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let kb = try KBFile(path: directory + "/1.sqlite", kbID: 1, label: "KB 1")
            try kb.database.execute("CREATE TABLE t (id INTEGER, note TEXT, PRIMARY KEY (id))")
            // Half the rounds are dense past two chunks, so a range spans several KB reads (and, with
            // few keys missing, is cleared gap by gap).
            let dense = round % 4 <= 1
            let span: Int64 = dense ? Int64(KBDeletes.chunk + 7) : 60
            var kbKeys = Set(edges)
            if dense { kbKeys.formUnion(-span...span) }
            for _ in 0..<(span / 2) { kbKeys.insert(Int64.random(in: -span...span, using: &generator)) }
            let insert = try kb.database.prepare("INSERT INTO t VALUES (?, 'x')")
            try kb.database.transaction {
                for id in kbKeys { try insert.run([.integer(id)]) }
            }
            let candidates = Array(kbKeys.union(edges)).sorted()
            var bounds = [candidates.randomElement(using: &generator)!, candidates.randomElement(using: &generator)!].sorted()
            let after: Int64? = round % 3 == 0 ? nil : bounds[0]
            let through: Int64? = round % 5 == 1 ? nil : bounds[1]
            if after != nil, after == through { bounds[1] = .max }
            let inRange = { (key: Int64) in (after.map { key > $0 } ?? true) && (through.map { key <= $0 } ?? true) }
            // The source: some KB keys of the range (in odd rounds all but a few, so the range is
            // cleared gap by gap rather than walked), and some keys the KB lacks.
            var present = Set(kbKeys.filter { inRange($0) && (round % 2 == 1 ? Int.random(in: 0..<50, using: &generator) > 0 : Bool.random(using: &generator)) })
            for _ in 0..<5 { let key = Int64.random(in: -span...span, using: &generator); if inRange(key) { present.insert(key) } }
            let deletes = try KBDeletes(kb: kb, table: "t", keyColumns: ["id"], kinds: [.integer], soft: false)
            let removed = try deletes.apply(range: KBKeyRange(after: after.map { int($0) }, through: through.map { int($0) }),
                                            present: present.sorted().map { int($0) })
            let expected = kbKeys.filter { !inRange($0) || present.contains($0) }.sorted()
            #expect(try ids(kb) == expected, "round \(round): range (\(String(describing: after)), \(String(describing: through))]")
            #expect(removed == Int64(kbKeys.count - expected.count))
        }
    }

    @Test func gapsAreTheIntegerRangesBetweenSourceKeys() {
        #expect(IntegerKeyWalk.gaps(in: [3, 4, 7], after: 1, through: 9, limit: 10) == [2...2, 5...6, 8...9])
        #expect(IntegerKeyWalk.gaps(in: [2, 3], after: 1, through: 3, limit: 10) == [])
        #expect(IntegerKeyWalk.gaps(in: [], after: nil, through: nil, limit: 10) == [Int64.min...Int64.max])
        #expect(IntegerKeyWalk.gaps(in: [.min, .max], after: nil, through: nil, limit: 10) == [(Int64.min + 1)...(Int64.max - 1)])
        #expect(IntegerKeyWalk.gaps(in: [], after: .max, through: nil, limit: 10) == [])
        #expect(IntegerKeyWalk.gaps(in: [1, 3, 5, 7], after: 0, through: 8, limit: 3) == nil)
    }

    @Test func integerKeysOutOfOrderOrOutsideTheirRangeRemoveNothing() throws {
        let kb = try table(1...10)
        let deletes = try KBDeletes(kb: kb, table: "t", keyColumns: ["id"], kinds: [.integer], soft: false)
        #expect(throws: KeyMergeWalk.OrderError.self) { try deletes.apply(range: KBKeyRange(after: nil, through: nil), present: [int(5), int(3)]) }
        #expect(throws: KeyMergeWalk.OrderError.self) { try deletes.apply(range: KBKeyRange(after: nil, through: nil), present: [int(5), int(5)]) }
        #expect { try deletes.apply(range: KBKeyRange(after: int(4), through: int(8)), present: [int(4)]) } throws: { "\($0)".contains("outside the range") }
        #expect { try deletes.apply(range: KBKeyRange(after: int(4), through: int(8)), present: [int(9)]) } throws: { "\($0)".contains("outside the range") }
        #expect { try deletes.apply(range: KBKeyRange(after: nil, through: nil), present: [text("5")]) } throws: { "\($0)".contains("not one integer") }
        #expect(try deletes.apply(range: KBKeyRange(after: int(.max), through: nil), present: []) == 0)
        #expect(try ids(kb) == Array(1...10))
        // A text value in an integer key column (a KB built by hand: no rowid, so no gaps) is never
        // met inside a bounded range (text sorts after every integer); past the last source key it
        // stops the walk.
        try kb.database.execute("CREATE TABLE u (id INT, note TEXT, PRIMARY KEY (id))")
        try kb.database.execute("INSERT INTO u VALUES (1, 'a'), (2, 'b'), ('x', 'text key')")
        let texts = try KBDeletes(kb: kb, table: "u", keyColumns: ["id"], kinds: [.integer], soft: false)
        #expect(try texts.apply(range: KBKeyRange(after: nil, through: int(5)), present: [int(1)]) == 1)
        #expect { try texts.apply(range: KBKeyRange(after: int(5), through: nil), present: []) } throws: { "\($0)".hasPrefix("deletes: ") }
        #expect(try kb.database.rows("SELECT count(*) FROM u") == [[.integer(2)]])
    }
}
