import ConnectorCore
import Foundation
import PostgresClient
import SQLiteStore
import Testing

/// What a rerun of a job means, and what a failed or rewritten run leaves for the next one.
@Suite("Reruns and failures", .enabled(if: TestDatabase.isAvailable, TestDatabase.skipReason), .serialized)
struct RerunsAndFailuresTests {
    @Test func aTableTruncatedWithRestartIdentityBetweenRunsIsReported() throws {
        let scratch = try Scratch()
        try scratch.sql("""
            CREATE TABLE {s}.t (id bigserial PRIMARY KEY, updated_at timestamptz NOT NULL DEFAULT clock_timestamp(), v text);
            CREATE INDEX ON {s}.t (updated_at, id);
            INSERT INTO {s}.t (v) SELECT 'first' FROM generate_series(1, 700);
            """)
        let spec = scratch.spec(table: "t", batchRows: 200)
        let first = try scratch.extract(spec, jobID: "truncated")
        #expect(first.warnings.isEmpty)
        #expect(try scratch.extract(spec, jobID: "truncated").warnings.isEmpty)  // nothing changed: no warning
        try scratch.sql("TRUNCATE {s}.t RESTART IDENTITY; INSERT INTO {s}.t (v) SELECT 'second' FROM generate_series(1, 700)")
        let second = try scratch.extract(spec, jobID: "truncated")
        #expect(second.state == .completed)
        #expect(second.warnings.count == 1)
        #expect(second.warnings.first?.contains("rewritten") == true)
    }

    @Test func aRerunOfACompletedReplaceIsAFreshRefresh() throws {
        let scratch = try Scratch()
        try scratch.sql("""
            CREATE TABLE {s}.r (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL, v text);
            INSERT INTO {s}.r SELECT g, '2026-01-01'::timestamptz + g * interval '1 s', 'v1' FROM generate_series(1, 1000) g;
            """)
        for cursor in ["updated_at", nil] as [String?] {
            let dest = "r_\(cursor ?? "snapshot")"
            let spec = scratch.spec(table: "r", dest: dest, cursor: cursor, batchRows: 300, mode: .replace)
            let first = try scratch.extract(spec, jobID: "refresh-\(dest)")
            #expect(first.rowsLanded == 1_000 && !first.refreshed)
            try scratch.sql("DELETE FROM {s}.r WHERE id <= 100; UPDATE {s}.r SET v = 'v2' WHERE id BETWEEN 101 AND 200")
            let second = try scratch.extract(spec, jobID: "refresh-\(dest)")
            #expect(second.refreshed)
            #expect(second.rowsLanded == 900 && second.totalRowsLanded == 900)
            #expect(try scratch.kb().rows("SELECT count(*), sum(v = 'v2') FROM \(dest)") == [[.integer(900), .integer(100)]])
            try scratch.sql("INSERT INTO {s}.r SELECT g, '2026-01-01'::timestamptz + g * interval '1 s', 'v1' FROM generate_series(1, 100) g; UPDATE {s}.r SET v = 'v1'")
        }
    }

    @Test func aRerunOfACompletedKeyedSnapshotReadsEveryRowAgain() throws {
        let scratch = try Scratch()
        try scratch.sql("""
            CREATE TABLE {s}.k (id bigint PRIMARY KEY, v text);
            INSERT INTO {s}.k SELECT g, 'v1' FROM generate_series(1, 500) g;
            """)
        let spec = scratch.spec(table: "k", cursor: nil, batchRows: 100)
        #expect(try scratch.extract(spec, jobID: "snap").rowsLanded == 500)
        try scratch.sql("UPDATE {s}.k SET v = 'v2' WHERE id % 5 = 0")
        let second = try scratch.extract(spec, jobID: "snap")
        #expect(second.refreshed && second.rowsLanded == 500)
        #expect(try scratch.kb().rows("SELECT count(*) FROM k WHERE v = 'v2'") == [[.integer(100)]])
    }

    @Test func aFailedCreateLeavesATableTheNextCreateTakesOver() throws {
        let scratch = try Scratch()
        try scratch.sql("""
            CREATE TABLE {s}.f (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL);
            INSERT INTO {s}.f SELECT g, '2026-01-01'::timestamptz + g * interval '1 s' FROM generate_series(1, 300) g;
            """)
        var settings = scratch.connection
        settings.lockTimeoutMs = 200
        let locker = try TestDatabase.connect()
        try locker.execute("BEGIN; LOCK TABLE \(scratch.table("f")) IN ACCESS EXCLUSIVE MODE")
        // The KB table is built, then the first read cannot lock the source: the job fails.
        let spec = scratch.spec(table: "f", batchRows: 100)
        #expect(throws: (any Error).self) {
            try Extractor(spec: spec, jobID: "fails", connection: settings, stateDir: scratch.stateDir,
                          logger: scratch.logger, retry: RetryPolicy(maxAttempts: 0)).run()
        }
        try locker.execute("COMMIT")
        #expect(try scratch.kb().rows("SELECT count(*) FROM f") == [[.integer(0)]])
        let next = try scratch.extract(spec, jobID: "succeeds")
        #expect(next.state == .completed && next.rowsLanded == 300)
        // The failed job cannot come back and write into the table another job now owns.
        #expect { try scratch.extract(spec, jobID: "fails") } throws: { ($0 as? KBError)?.field == "job_id" }
        // A table that holds rows is never taken over.
        #expect { try scratch.extract(spec, jobID: "third") } throws: { "\($0)".contains("already exists") }
    }
}
