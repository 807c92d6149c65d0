import ConnectorCore
import Foundation
import SQLiteStore
import Testing

/// A KB on a tiny tmpfs: the disk fills mid-extract.
@Suite("Full disk", .enabled(if: TestDatabase.isAvailable && (TmpfsMount.isPossible || TestDatabase.isCI), TmpfsMount.skipReason), .serialized)
struct DiskFullTests {
    @Test func aFullDiskFailsClearlyLosesNothingAndTheJobResumesOnceThereIsRoom() throws {
        let scratch = try Scratch()
        try scratch.sql("""
            CREATE TABLE {s}.events (id int PRIMARY KEY, updated_at timestamptz NOT NULL, pad text);
            INSERT INTO {s}.events SELECT g, '2026-01-01'::timestamptz + g * interval '1 s', repeat(md5(g::text), 3)
            FROM generate_series(1, 20000) g;
            """)
        let mountPoint = scratch.stateDir + "/small"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        #expect(system("mount -t tmpfs -o size=2m tmpfs '\(mountPoint)'") == 0)
        defer { _ = system("umount '\(mountPoint)'") }

        let spec = scratch.spec(table: "events", batchRows: 500)
        let extractor = Extractor(spec: spec, jobID: "full", connection: scratch.connection, stateDir: mountPoint, logger: scratch.logger)
        #expect { try extractor.run() } throws: { error in
            guard let sqlite = error as? SQLiteError else { return false }
            return sqlite.isDiskFull && "\(error)".contains("full") && "\(error)".contains(mountPoint + "/kb/1.sqlite")
        }
        // What landed is whole batches with the matching checkpoint.
        let record = try #require(try LocalKB(stateDir: mountPoint, kbID: 1).jobRecord("full"), "the job was registered before the disk filled")
        let kb = try SQLiteDatabase(path: LocalKB.path(stateDir: mountPoint, kbID: 1))
        #expect(try kb.rows("SELECT count(*) FROM events").first == [.integer(record.rowsLanded)])
        #expect(record.rowsLanded % 500 == 0)
        #expect(record.rowsLanded > 0 && record.rowsLanded < 20_000)

        #expect(system("mount -o remount,size=64m '\(mountPoint)'") == 0)
        let resumed = try Extractor(spec: spec, jobID: "full", connection: scratch.connection, stateDir: mountPoint, logger: scratch.logger).run()
        #expect(resumed.state == .completed)
        #expect(try kb.rows("SELECT count(*), count(DISTINCT id), min(id), max(id) FROM events").first
                == [.integer(20_000), .integer(20_000), .integer(1), .integer(20_000)])
    }

    /// An incremental run after a first load by key, with thousands of rows changed at random:
    /// its rows come in cursor order and are staged, then flushed in key order in one transaction
    /// that touches every page of the KB table. The disk fills during that flush: the run fails
    /// naming the file, the KB keeps the last committed state with its checkpoint (no half
    /// flush), and once there is room the same job finishes with the KB equal to the source.
    @Test func aDiskThatFillsDuringAStagedMergeKeepsTheLastCommitAndTheRerunFinishes() throws {
        let scratch = try Scratch()
        try scratch.sql("""
            CREATE TABLE {s}.m (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL, v text, pad text);
            INSERT INTO {s}.m SELECT g, '2026-01-01'::timestamptz + random() * interval '300 days', 'v1', repeat(md5(g::text), 3)
            FROM generate_series(1, 20000) g;
            CREATE INDEX ON {s}.m (updated_at, id);
            ANALYZE {s}.m;
            """)
        let mountPoint = scratch.stateDir + "/small"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        #expect(system("mount -t tmpfs -o size=32m tmpfs '\(mountPoint)'") == 0)
        defer { _ = system("umount '\(mountPoint)'") }
        let spec = scratch.spec(table: "m", mode: .append)
        func extractor() -> Extractor {
            Extractor(spec: spec, jobID: "merge", connection: scratch.connection, stateDir: mountPoint, logger: scratch.logger)
        }
        let loaded = try extractor().run()
        #expect(loaded.state == .completed && loaded.keyOrderRows == 20_000)
        let mark = try #require(loaded.checkpoint)
        let before = try rows(scratch)

        // 8,000 rows change, in a cursor order unrelated to their keys (all after the mark).
        try scratch.sql("""
            UPDATE {s}.m SET v = 'v2', pad = md5(id::text), updated_at = '2027-01-01'::timestamptz + random() * interval '1 day'
            WHERE id IN (SELECT id FROM {s}.m ORDER BY random() LIMIT 8000)
            """)
        // The rest of the disk, but 256 KiB: room for the run's start, not for a flush of every page.
        var stats = statvfs()
        #expect(statvfs(mountPoint, &stats) == 0)
        let free = Int(stats.f_bavail) * Int(stats.f_frsize)
        #expect(FileManager.default.createFile(atPath: mountPoint + "/filler", contents: Data(count: max(0, free - 256 << 10))))

        var staged = 0
        #expect { try extractor().run { staged = max(staged, $0.batches) } } throws: { error in
            guard let sqlite = error as? SQLiteError else { return false }
            return sqlite.isDiskFull && "\(error)".contains("full") && "\(error)".contains(mountPoint + "/kb/1.sqlite")
        }
        #expect(staged >= 1, "the disk filled before any batch was read")
        // The last commit stands: the first run's rows, under the first run's checkpoint.
        let record = try #require(try LocalKB(stateDir: mountPoint, kbID: 1).jobRecord("merge"))
        #expect(record.checkpoint == mark)
        #expect(record.rowsLanded == loaded.totalRowsLanded)
        let kb = try SQLiteDatabase(path: LocalKB.path(stateDir: mountPoint, kbID: 1))
        #expect(try rows(kb) == before)
        #expect(try kb.rows("PRAGMA quick_check") == [[.text("ok")]])

        #expect(system("mount -o remount,size=128m '\(mountPoint)'") == 0)
        let rerun = try extractor().run()
        #expect(rerun.state == .completed)
        #expect(rerun.rowsLanded >= 8_000 && rerun.keyOrderRows == 0)
        let source = try rows(scratch)
        #expect(try source.count == 20_000 && source != before && rows(kb) == source)
    }

    /// `id|v|pad` of every row of `m`, by id: at the source, and in the KB.
    func rows(_ scratch: Scratch) throws -> [String] {
        let result = try scratch.sql("SELECT id, v, pad FROM {s}.m ORDER BY id")
        return (0..<result.rowCount).map { "\(result.string($0, 0)!)|\(result.string($0, 1)!)|\(result.string($0, 2)!)" }
    }

    func rows(_ kb: SQLiteDatabase) throws -> [String] {
        try kb.rows("SELECT id, v, pad FROM m ORDER BY id").map { row in
            row.map { value in
                if case .integer(let number) = value { return String(number) }
                return value.text ?? "NULL"
            }.joined(separator: "|")
        }
    }
}

/// Whether this process may mount a tmpfs (it needs root; CI runs as root). Elsewhere the suite is skipped.
enum TmpfsMount {
    static let skipReason: Comment = "needs PostgreSQL and root (to mount a small tmpfs that fills up); under CI=true it runs and fails instead of skipping"

    static let isPossible: Bool = {
        let probe = NSTemporaryDirectory() + "timbal-mount-probe-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: probe, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: probe) }
        guard system("mount -t tmpfs -o size=64k tmpfs '\(probe)' 2>/dev/null") == 0 else { return false }
        _ = system("umount '\(probe)'")
        return true
    }()
}
