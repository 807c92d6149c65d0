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
        let scratch = try Scratch.byCursor()
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
        let scratch = try Scratch.byCursor()
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

    /// Unpaced, the next batch's FETCH is sent before the writer has room for it. A writer that
    /// stalls (a slow disk) makes the fetcher end the segment with that FETCH in flight: its rows
    /// are dropped and read again by the next segment, from the last batch handed on, while the
    /// table moves on (rows inserted and updated during the stall).
    @Test(arguments: [true, false])
    func aSegmentEndedWithAFetchInFlightDropsItsRowsAndReadsThemAgain(indexed: Bool) throws {
        let scratch = try Scratch.byCursor()
        try scratch.sql("""
            CREATE TABLE {s}.ahead (id int PRIMARY KEY, updated_at timestamptz NOT NULL, note text);
            INSERT INTO {s}.ahead SELECT g, '2026-01-01'::timestamptz + (g / 3) * interval '1 s', 'v1' FROM generate_series(1, 6000) g;
            """)
        if indexed { try scratch.sql("CREATE INDEX ON {s}.ahead (updated_at, id)") }
        let spec = scratch.spec(table: "ahead", batchRows: 500)
        var stalled = false
        let result = try scratch.extractor(spec, jobID: "ahead").run { progress in
            guard progress.batches == 3, !stalled else { return }
            stalled = true
            // While the writer stalls: new rows at the end, and rows not read yet updated.
            _ = try? scratch.sql("""
                INSERT INTO {s}.ahead SELECT g, '2027-01-01'::timestamptz + g * interval '1 s', 'new' FROM generate_series(6001, 6100) g;
                UPDATE {s}.ahead SET note = 'v2' WHERE id BETWEEN 2000 AND 2010;
                """)
            Thread.sleep(forTimeInterval: 1.6)
        }
        #expect(result.state == .completed)
        if indexed {
            // The stall ended the segment; the next one, a new snapshot, sees the inserted rows.
            #expect(result.segments >= 2)
            #expect(try scratch.kbIntegers("id", table: "ahead") == Array(1...6100))
            // Batches are rows 1-500, 501-1000, ...: at the stall batch 4 (to id 2000) was handed
            // on and batch 5 was in flight. Rows 2001-2010 were dropped with it and read again from
            // the new snapshot (updated); row 2000 keeps the version read before the update, which
            // the job's next incremental run reads again.
            let notes = try scratch.kb().rows("SELECT id FROM ahead WHERE id BETWEEN 2000 AND 2010 AND note = 'v2' ORDER BY id")
            #expect(notes.map { $0[0] } == (2001...2010).map { .integer(Int64($0)) })
        } else {
            // A held segment holds no snapshot, so the stall does not end it: its sorted result,
            // taken before the changes, is read to the end (the next incremental run reads them).
            #expect(result.segments == 1)
            #expect(try scratch.kbIntegers("id", table: "ahead") == Array(1...6000))
        }
    }

    /// The session is killed while a held segment, its read-ahead taken in, waits for a stalled
    /// writer: the rows taken in are handed on, the next fetch fails and is retried like any
    /// other (a new session sorts the rest again from the last key), and every row lands once.
    @Test func aReadAheadLostWithItsSessionIsRetriedAndEveryRowLandsOnce() throws {
        let scratch = try Scratch.byCursor()
        try scratch.sql("""
            CREATE TABLE {s}.lost (id int PRIMARY KEY, updated_at timestamptz NOT NULL);
            INSERT INTO {s}.lost SELECT g, '2026-01-01'::timestamptz + (g * 7919 % 9000) * interval '1 s' FROM generate_series(1, 9000) g;
            """)
        let spec = scratch.spec(table: "lost", batchRows: 1_000)
        var killed = false
        let result = try scratch.extractor(spec, jobID: "lost").run { _ in
            guard !killed else { return }
            killed = true
            Thread.sleep(forTimeInterval: 1.3)  // the fetcher takes its read-ahead in after 1 s
            _ = try? scratch.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'timbal-connector job=lost'")
            Thread.sleep(forTimeInterval: 0.3)
        }
        #expect(result.state == .completed)
        #expect(result.retries >= 1)
        #expect(try scratch.kbIntegers("id", table: "lost") == Array(1...9000))
    }

    /// A writer that stays more than a second behind (a slow disk, a hosted plane's window)
    /// would have every read-ahead dropped and read again: after the first, the run stops reading
    /// ahead, so the table is still read about once.
    @Test func aWriterAlwaysBehindDoesNotMakeEveryBatchReadTwice() throws {
        let scratch = try Scratch.byCursor()
        try scratch.sql("""
            CREATE TABLE {s}.slow (id int PRIMARY KEY, updated_at timestamptz NOT NULL, pad text);
            INSERT INTO {s}.slow SELECT g, '2026-01-01'::timestamptz + g * interval '1 s', repeat('x', 200) FROM generate_series(1, 10000) g;
            CREATE INDEX ON {s}.slow (updated_at, id);
            ANALYZE {s}.slow;
            """)
        let spec = scratch.spec(table: "slow", batchRows: 2_000)
        let result = try scratch.extractor(spec, jobID: "slow").run { _ in Thread.sleep(forTimeInterval: 1.2) }
        #expect(result.state == .completed)
        #expect(try scratch.kbIntegers("id", table: "slow") == Array(1...10000))
        let blocks = try #require(result.heapBlocks), table = try #require(result.tableBlocks)
        // Dropping and re-reading every read-ahead would read ~1.8x the table here.
        #expect(Double(blocks) <= 1.35 * Double(table), "read \(blocks) heap blocks of a \(table)-block table")
    }

    /// A held segment waits for a stalled writer as long as it takes; its read-ahead FETCH, whose
    /// rows the server cannot send meanwhile (more than the socket holds), is taken in after a
    /// second, so the statement timeout does not cancel it (which would retry the job and sort
    /// the table again).
    @Test func aHeldSegmentsReadAheadOutlastsAWriterStallLongerThanTheStatementTimeout() throws {
        let scratch = try Scratch.byCursor()
        try scratch.sql("""
            CREATE TABLE {s}.fat (id int PRIMARY KEY, updated_at timestamptz NOT NULL, pad text);
            INSERT INTO {s}.fat SELECT g, '2026-01-01'::timestamptz + (g * 7919 % 12000) * interval '1 s', repeat(md5(g::text), 128)
            FROM generate_series(1, 12000) g;
            """)
        var settings = scratch.connection
        settings.statementTimeoutMs = 2_500
        // ~16 MB a batch: at the stall, batch 2 waits in the queue and batch 3 is read ahead.
        let spec = scratch.spec(table: "fat", batchRows: 4_000)
        var stalled = false
        let result = try Extractor(spec: spec, jobID: "fat", connection: settings, stateDir: scratch.stateDir, logger: scratch.logger).run { _ in
            guard !stalled else { return }
            stalled = true
            Thread.sleep(forTimeInterval: 4)
        }
        #expect(result.state == .completed)
        #expect(result.retries == 0 && result.segments == 1)
        #expect(try scratch.kbIntegers("id", table: "fat") == Array(1...12000))
    }

    /// Without an index the server sorts the table once and keeps the result: while the paced job
    /// reads it, the session holds no snapshot (nothing holds back VACUUM) and no lock on the table.
    @Test func aPacedUnindexedJobHoldsNoSnapshotWhileItReads() throws {
        let scratch = try Scratch.byCursor()
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
        let scratch = try Scratch.byCursor()
        try scratch.sql("""
            CREATE TABLE {s}.paced (id int PRIMARY KEY, updated_at timestamptz NOT NULL);
            INSERT INTO {s}.paced SELECT g, '2026-01-01'::timestamptz + g * interval '1 ms' FROM generate_series(1, 14000) g;
            CREATE INDEX ON {s}.paced (updated_at, id);
            """)
        let cap = 2_000
        let spec = scratch.spec(table: "paced", pacing: Pacing(maxRowsPerSec: cap))
        let locker = TableLocker(connection: try TestDatabase.connect(), table: scratch.table("paced"))
        // When each batch was handed to the KB (staged or committed): what the cap admits. Rows
        // committed come in lumps, one per flush of the staged rows (docs/extraction.md).
        var landed: [(at: Double, rows: Int64)] = []
        let extractor = scratch.extractor(spec, jobID: "stall")
        let lockThread = Thread { locker.hold(after: 1.5, for: 3) }
        lockThread.start()
        let result = try extractor.run { progress in landed.append((monotonicSeconds(), progress.rowsRead)) }
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
