import ConnectorCore
import Foundation
import PostgresClient
import SQLiteStore
import Testing

/// Reading gently: a bounded number of scans whatever the indexes, segments that roll over
/// exactly, a rate cap that survives a stall.
@Suite("Gentle reads", .enabled(if: TestDatabase.isAvailable, TestDatabase.skipReason), .serialized)
struct GentleReadTests {
    @Test func anUnindexedCursorCostsAboutOneScanOfTheTable() throws {
        let scratch = try Scratch()
        try scratch.sql("""
            CREATE TABLE {s}.wide (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL, payload text);
            INSERT INTO {s}.wide SELECT g, '2026-01-01'::timestamptz + (g * 7919 % 100000) * interval '1 ms', repeat('x', 100)
            FROM generate_series(1, 100000) g;
            ANALYZE {s}.wide;
            """)
        let result = try scratch.extract(scratch.spec(table: "wide", batchRows: 1_000))
        #expect(result.state == .completed)
        #expect(result.rowsLanded == 100_000)
        let blocks = try #require(result.heapBlocks), table = try #require(result.tableBlocks)
        // Keyset batches without an index read the whole table per batch (100 scans here).
        #expect(blocks <= 3 * table, "read \(blocks) heap blocks of a \(table)-block table in \(result.segments) segments")
        #expect(result.segments <= 2)
    }

    /// With an index: a new segment per batch (max_snapshot 0). Without: one held segment per pass.
    @Test(arguments: [(1, true), (3, true), (7, true), (1, false), (7, false)])
    func segmentsKeepTiesAndNullCursorsExact(batchRows: Int, indexed: Bool) throws {
        let scratch = try Scratch()
        try scratch.sql("""
            CREATE TABLE {s}.ties (id int PRIMARY KEY, updated_at timestamptz);
            INSERT INTO {s}.ties SELECT g, CASE WHEN g % 5 = 0 THEN NULL ELSE '2026-01-01'::timestamptz + (g / 6) * interval '1 s' END
            FROM generate_series(1, 300) g;
            """)
        if indexed { try scratch.sql("CREATE INDEX ON {s}.ties (updated_at, id)") }
        var settings = scratch.connection
        settings.maxSnapshotSeconds = 0  // every batch ends its segment
        let spec = scratch.spec(table: "ties", batchRows: batchRows)
        let result = try Extractor(spec: spec, jobID: "roll", connection: settings, stateDir: scratch.stateDir, logger: scratch.logger).run()
        #expect(indexed ? result.segments >= 300 / batchRows : result.segments == 2)
        #expect(result.nullCursorRows == 60)
        #expect(try scratch.kbIntegers("id", table: "ties") == Array(1...300))
    }

    /// Without an index the server sorts the table once and keeps the result: while the paced job
    /// reads it, the session holds no snapshot (nothing holds back VACUUM) and no lock on the table.
    @Test func aPacedUnindexedJobHoldsNoSnapshotWhileItReads() throws {
        let scratch = try Scratch()
        try scratch.sql("""
            CREATE TABLE {s}.plain (id int PRIMARY KEY, updated_at timestamptz NOT NULL);
            INSERT INTO {s}.plain SELECT g, '2026-01-01'::timestamptz + (g * 7919 % 20000) * interval '1 s' FROM generate_series(1, 20000) g;
            """)
        let spec = scratch.spec(table: "plain", pacing: Pacing(maxRowsPerSec: 4000))
        let extractor = scratch.extractor(spec, jobID: "held")
        let observer = try TestDatabase.connect()
        var seen: [String] = []
        let result = try extractor.run { progress in
            guard progress.batches == 10 || progress.batches == 30 else { return }
            let row = try? observer.execute("""
                SELECT coalesce(a.backend_xmin::text, 'none'),
                       (SELECT count(*) FROM pg_locks l WHERE l.pid = a.pid AND l.relation = '\(scratch.table("plain"))'::regclass)
                FROM pg_stat_activity a WHERE a.application_name = 'timbal-connector job=held'
                """)
            seen.append("\(row?.string(0, 0) ?? "?")/\(row?.string(0, 1) ?? "?")")
        }
        #expect(result.state == .completed && result.segments == 1)
        #expect(seen == ["none/0", "none/0"])
        #expect(try scratch.kbIntegers("id", table: "plain") == Array(1...20000))
    }

    @Test func theRateCapHoldsAfterATableLockIsReleased() throws {
        let scratch = try Scratch()
        try scratch.sql("""
            CREATE TABLE {s}.paced (id int PRIMARY KEY, updated_at timestamptz NOT NULL);
            INSERT INTO {s}.paced SELECT g, '2026-01-01'::timestamptz + g * interval '1 ms' FROM generate_series(1, 14000) g;
            CREATE INDEX ON {s}.paced (updated_at, id);
            """)
        let cap = 2_000
        let spec = scratch.spec(table: "paced", pacing: Pacing(maxRowsPerSec: cap))
        let locker = TableLocker(connection: try TestDatabase.connect(), table: scratch.table("paced"))
        var landed: [(at: Double, rows: Int64)] = []
        let extractor = scratch.extractor(spec, jobID: "stall")
        let lockThread = Thread { locker.hold(after: 1.5, for: 3) }
        lockThread.start()
        let result = try extractor.run { progress in landed.append((monotonicSeconds(), progress.rowsLanded)) }
        #expect(result.state == .completed && locker.locked)
        var stalls = 0, worst: Int64 = 0
        for (index, entry) in landed.enumerated() {
            let before = index == 0 ? 0 : landed[index - 1].rows
            let windowEnd = landed[index...].prefix { $0.at < entry.at + 1 }.last!
            worst = max(worst, windowEnd.rows - before)
            if index > 0, entry.at - landed[index - 1].at > 1 { stalls += 1 }
        }
        #expect(stalls >= 1, "the lock never stalled the job")
        #expect(Double(worst) <= 1.1 * Double(cap), "busiest one-second window: \(worst) rows")
    }
}

/// Holds an ACCESS EXCLUSIVE lock on a table for a while, from its own thread.
final class TableLocker: @unchecked Sendable {
    let connection: PostgresConnection
    let table: String
    private(set) var locked = false

    init(connection: PostgresConnection, table: String) {
        self.connection = connection
        self.table = table
    }

    func hold(after delay: Double, for seconds: Double) {
        Thread.sleep(forTimeInterval: delay)
        _ = try? connection.execute("BEGIN; LOCK TABLE \(table) IN ACCESS EXCLUSIVE MODE")
        locked = true
        Thread.sleep(forTimeInterval: seconds)
        _ = try? connection.execute("COMMIT")
    }
}
