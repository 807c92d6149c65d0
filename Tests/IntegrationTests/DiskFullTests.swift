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
