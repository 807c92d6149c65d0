import Foundation
@testable import KBRules
import SQLiteStore
import Testing

/// Rows staged and written in key order (`KBRowWriter.stage`/`flushStaged`, `land(sortedByKey:)`)
/// on real SQLite files: the later version of a key wins, nothing reaches the table or the
/// checkpoint before the flush, and the WAL stays bounded whatever the order.
@Suite("KB staged writes")
struct KBStageTests {
    let directory = NSTemporaryDirectory() + "timbal-kbstage-\(UUID().uuidString.prefix(8))"

    func kb() throws -> KBFile {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return try KBFile(path: directory + "/1.sqlite", kbID: 1, label: "KB 1")
    }

    func target(_ kb: KBFile, job: String = "a") throws -> KBTarget {
        let plan = KBWritePlan(columns: [KBColumn(name: "id", sourceType: "int8", kbType: "INTEGER"),
                                         KBColumn(name: "note", sourceType: "text", kbType: "TEXT")],
                               mergeKey: ["id"], sourceCatalog: ["id": "int8", "note": "text"], sourceName: "public.t")
        return try KBTarget.prepare(kb: kb, jobID: job, dest: "t", mode: "append", plan: plan)
    }

    func rowsOf(_ pairs: [(Int64, String)]) -> (KBRowWriter) throws -> Int {
        { writer in
            for (id, note) in pairs {
                try writer.row { statement in
                    try statement.bindInteger(id, at: 1)
                    try statement.bindText(note, at: 2)
                }
            }
            return pairs.count
        }
    }

    func job(_ kb: KBFile) throws -> [SQLiteValue] {
        try kb.database.rows("SELECT checkpoint, rows_landed, batches FROM _timbal_jobs WHERE job_id = 'a'").first!
    }

    /// A connection kept open across runs (the plane's) stages into a stage made for the table as
    /// it is now: a column retyped from INTEGER to TEXT keeps `007` as text.
    @Test func aStageIsMadeForTheTableAsItIsNow() throws {
        let kb = try kb()
        // Each batch: a writer of its own on the one connection, rows sorted through the stage.
        func land(code: String) throws {
            let target = KBTarget(table: "s", swapInto: nil, mergeKey: ["id"], addedColumns: [])
            let writer = try KBRowWriter(kb: kb, target: target, columns: ["id", "code"], jobID: "s")
            try writer.land(checkpoint: nil, sortedByKey: true) { writer in
                try writer.row { statement in
                    try statement.bindInteger(1, at: 1)
                    try statement.bindText(code, at: 2)
                }
                return 1
            }
        }
        try kb.database.execute("CREATE TABLE s (id INTEGER PRIMARY KEY, code INTEGER)")
        try land(code: "7")
        #expect(try kb.database.rows("SELECT code, typeof(code) FROM s") == [[.integer(7), .text("integer")]])
        try kb.database.execute("DROP TABLE s")
        try kb.database.execute("CREATE TABLE s (id INTEGER PRIMARY KEY, code TEXT)")
        try land(code: "007")
        #expect(try kb.database.rows("SELECT code, typeof(code) FROM s") == [[.text("007"), .text("text")]])
    }

    @Test func stagedRowsLandInKeyOrderAndTheLaterVersionWins() throws {
        let kb = try kb()
        let writer = try KBRowWriter(kb: kb, target: try target(kb), columns: ["id", "note"], jobID: "a")
        try writer.land(checkpoint: "c0", rowsOf([(1, "a"), (2, "a"), (3, "a")]))
        // Two batches in reverse key order; key 2 comes twice, its later version last.
        _ = try writer.stage(rowsOf([(9, "x"), (5, "x"), (2, "first")]))
        _ = try writer.stage(rowsOf([(7, "y"), (2, "second"), (1, "y")]))
        #expect(writer.stagedRows == 6)
        // Nothing reaches the table nor the checkpoint before the flush.
        #expect(try kb.database.rows("SELECT count(*) FROM t") == [[.integer(3)]])
        #expect(try job(kb) == [.text("c0"), .integer(3), .integer(1)])
        let merged = try writer.flushStaged(checkpoint: "c2", batches: 2)
        #expect(merged == 3)  // 1, and 2 twice
        #expect(writer.stagedRows == 0)
        #expect(try kb.database.rows("SELECT id, note FROM t ORDER BY id")
                == [[.integer(1), .text("y")], [.integer(2), .text("second")], [.integer(3), .text("a")],
                    [.integer(5), .text("x")], [.integer(7), .text("y")], [.integer(9), .text("x")]])
        #expect(try job(kb) == [.text("c2"), .integer(9), .integer(3)])
    }

    @Test func rowsStagedButNeverFlushedLeaveTheKBAsItWas() throws {
        do {
            let kb = try kb()
            let writer = try KBRowWriter(kb: kb, target: try target(kb), columns: ["id", "note"], jobID: "a")
            try writer.land(checkpoint: "c0", rowsOf([(1, "a")]))
            _ = try writer.stage(rowsOf([(1, "lost"), (2, "lost")]))
        }
        // The connection is gone (a crash): its TEMP stage with it; table and checkpoint as committed.
        let reopened = try KBFile(path: directory + "/1.sqlite", kbID: 1, label: "KB 1")
        #expect(try reopened.database.rows("SELECT id, note FROM t") == [[.integer(1), .text("a")]])
        #expect(try job(reopened) == [.text("c0"), .integer(1), .integer(1)])
    }

    @Test func aSortedLandIsOneTransactionWithItsCheckpoint() throws {
        let kb = try kb()
        let writer = try KBRowWriter(kb: kb, target: try target(kb), columns: ["id", "note"], jobID: "a")
        let merged = try writer.land(checkpoint: "c1", sortedByKey: true, rowsOf([(3, "a"), (1, "a"), (3, "b")]))
        #expect(merged == 1)
        #expect(try kb.database.rows("SELECT id, note FROM t ORDER BY id") == [[.integer(1), .text("a")], [.integer(3), .text("b")]])
        #expect(try job(kb) == [.text("c1"), .integer(3), .integer(1)])
        // A failing batch leaves nothing staged behind for the next one.
        #expect(throws: SQLiteError.self) {
            try writer.land(checkpoint: "c2", sortedByKey: true) { writer in
                _ = try rowsOf([(8, "z")])(writer)
                try writer.row { try $0.bindText("not an id", at: 1); try $0.bindText("z", at: 2) }
                throw SQLiteError(code: 1, message: "the batch failed", sql: nil, path: nil)
            }
        }
        try writer.land(checkpoint: "c3", sortedByKey: true, rowsOf([(4, "d")]))
        #expect(try kb.database.rows("SELECT id FROM t ORDER BY id") == [[.integer(1)], [.integer(3)], [.integer(4)]])
    }

    @Test func theWALStaysBoundedWhileMergesRewritePagesAllOverTheTable() throws {
        let kb = try kb()
        // As the connector runs it: no checkpoint on commit (WALCheckpointer's own thread would
        // do them, and fall behind a writer that rewrites pages all over the table).
        try kb.database.execute("PRAGMA wal_autocheckpoint = 0")
        let writer = try KBRowWriter(kb: kb, target: try target(kb), columns: ["id", "note"], jobID: "a")
        let pad = String(repeating: "p", count: 400)
        for start in stride(from: 0, to: 200_000, by: 20_000) {
            try writer.land(checkpoint: nil, rowsOf((start..<start + 20_000).map { (Int64($0), pad) }))
        }
        // Ten flushes of 16,384 keys spread over the ~90 MB table: each dirties most of its pages.
        var generator = SystemRandomNumberGenerator()
        var peak: Int64 = 0
        for round in 0..<10 {
            let keys = (0..<16_384).map { _ in Int64.random(in: 0..<200_000, using: &generator) }
            _ = try writer.stage(rowsOf(keys.map { ($0, pad + String(round)) }))
            try writer.flushStaged(checkpoint: "r\(round)", batches: 1)
            peak = max(peak, kb.walBytes)
        }
        // One flush's pages (16,384 at most, 4 KiB each) over the restart threshold, at most.
        #expect(peak <= KBFile.walRestartBytes + 16_384 * 4_096 + (8 << 20))
        #expect(kb.walBytes <= KBFile.walRestartBytes + 16_384 * 4_096 + (8 << 20))
    }

    /// A table of `rows` keys 0..<rows with 400-byte notes, landed in key order; the WAL restarted
    /// and, unlike the connector's, cut to nothing at each restart, so its size is what was written since.
    func bigTable(_ kb: KBFile, rows: Int) throws -> KBRowWriter {
        try kb.database.execute("PRAGMA wal_autocheckpoint = 0")
        try kb.database.execute("PRAGMA journal_size_limit = 0")
        let writer = try KBRowWriter(kb: kb, target: try target(kb), columns: ["id", "note"], jobID: "a")
        let pad = String(repeating: "p", count: 400)
        for start in stride(from: 0, to: rows, by: 20_000) {
            try writer.land(checkpoint: "load", rowsOf((start..<min(rows, start + 20_000)).map { (Int64($0), pad) }))
        }
        _ = try kb.database.rows("PRAGMA main.wal_checkpoint(RESTART)")
        // The restarted WAL is cut back at the next commit.
        try kb.database.execute("PRAGMA user_version = 1")
        return writer
    }

    /// The WAL file's largest size while `body` runs, polled every millisecond from another thread.
    func walPeak(_ kb: KBFile, during body: () throws -> Void) rethrows -> Int64 {
        let path = kb.database.path + "-wal"
        let peak = Peak()
        let poller = Thread {
            while !peak.stopped {
                var info = stat()
                if stat(path, &info) == 0 { peak.see(Int64(info.st_size)) }
                usleep(1_000)
            }
            peak.finish()
        }
        poller.start()
        defer { peak.stopAndWait() }
        try body()
        return peak.value
    }

    /// One flush of rows spread over a table much larger than the WAL may grow: it commits on
    /// the way (the WAL restarts), ends with its checkpoint, and the table is exact.
    @Test func aFlushLargerThanTheWALMayGrowCommitsOnTheWayAndEndsExact() throws {
        let kb = try kb()
        let writer = try bigTable(kb, rows: 120_000)   // ~50 MB, ~12,000 pages
        writer.walFlushBytes = 4 << 20
        var generator = SystemRandomNumberGenerator()
        var expected: [Int64: String] = [:]
        var staged: [(Int64, String)] = []
        for version in 0..<40_000 {
            let key = Int64.random(in: 0..<120_000, using: &generator)
            staged.append((key, "v\(version)"))
            expected[key] = "v\(version)"   // the later version wins
        }
        _ = try writer.stage(rowsOf(staged))
        let peak = try walPeak(kb) { try writer.flushStaged(checkpoint: "merged", batches: 20) }
        // Unbounded, this flush dirties ~96% of the table's pages: ~46 MB.
        #expect(peak <= writer.walFlushBytes + Int64(KBStage.chunkRows) * 4_096 + (4 << 20), "WAL peak \(peak) bytes")
        #expect(try job(kb) == [.text("merged"), .integer(160_000), .integer(26)])
        var mismatches = 0
        for row in try kb.database.rows("SELECT id, note FROM t") {
            guard case .integer(let id) = row[0], case .text(let note) = row[1] else { mismatches += 1; continue }
            if note != (expected[id] ?? String(repeating: "p", count: 400)) { mismatches += 1 }
        }
        #expect(mismatches == 0)
        #expect(try kb.database.rows("SELECT count(*) FROM t") == [[.integer(120_000)]])
    }

    /// A flush that fails after committing part of its rows leaves the earlier checkpoint; the
    /// rows it committed are newer than that checkpoint says, and the run that reads them again
    /// (as a resumed job does, from that checkpoint) ends with the same table as if it had not failed.
    @Test func aFlushThatFailsAfterCommittingOnTheWayIsMadeWholeByReadingItsRowsAgain() throws {
        let kb = try kb()
        let writer = try bigTable(kb, rows: 40_000)
        writer.walFlushBytes = 1 << 20
        try kb.database.execute("CREATE TRIGGER fail_late BEFORE UPDATE ON t WHEN NEW.note = 'boom' BEGIN SELECT RAISE(ABORT, 'the disk is gone'); END")
        let rows = (0..<40_000).map { (Int64($0), $0 == 38_000 ? "boom" : "new\($0)") }
        _ = try writer.stage(rowsOf(rows))
        #expect(throws: SQLiteError.self) { try writer.flushStaged(checkpoint: "second", batches: 1) }
        #expect(try job(kb) == [.text("load"), .integer(40_000), .integer(2)])
        let committedAhead = try kb.database.rows("SELECT count(*) FROM t WHERE note LIKE 'new%'").first?.first
        guard case .integer(let ahead)? = committedAhead else { Issue.record("no count"); return }
        #expect(ahead > 0 && ahead < 38_000, "rows committed before the failure: \(ahead)")
        #expect(writer.stagedRows == 0)

        try kb.database.execute("DROP TRIGGER fail_late")
        _ = try writer.stage(rowsOf(rows))
        try writer.flushStaged(checkpoint: "second", batches: 1)
        #expect(try job(kb) == [.text("second"), .integer(80_000), .integer(3)])
        #expect(try kb.database.rows("SELECT count(*), count(*) FILTER (WHERE note = 'new' || id OR (id = 38000 AND note = 'boom')) FROM t")
                == [[.integer(40_000), .integer(40_000)]])
    }
}

/// The largest value seen by a polling thread, and a way to stop it and wait for it.
private final class Peak: @unchecked Sendable {
    private let lock = NSCondition()
    private var largest: Int64 = 0
    private var stop = false
    private var done = false

    var stopped: Bool { lock.lock(); defer { lock.unlock() }; return stop }
    var value: Int64 { lock.lock(); defer { lock.unlock() }; return largest }
    func see(_ size: Int64) { lock.lock(); largest = max(largest, size); lock.unlock() }
    func finish() { lock.lock(); done = true; lock.broadcast(); lock.unlock() }
    func stopAndWait() {
        lock.lock()
        stop = true
        while !done { lock.wait() }
        lock.unlock()
    }
}
