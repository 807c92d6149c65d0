import ConnectorCore
import Foundation
import SQLiteStore
import Testing

/// Batches are capped by bytes as well as rows, so large cells neither blow memory up nor make a
/// hosted batch the channel cannot carry; a row too large for its destination fails at once.
@Suite("Large rows", .enabled(if: TestDatabase.isAvailable, TestDatabase.skipReason), .serialized)
struct LargeRowsTests {
    func seed(_ scratch: Scratch, bigMegabytes: Int) throws {
        try scratch.sql("""
            CREATE TABLE {s}.docs (id int PRIMARY KEY, updated_at timestamptz NOT NULL, body text);
            INSERT INTO {s}.docs SELECT g, '2026-01-01'::timestamptz + g * interval '1 s', 'small ' || g FROM generate_series(1, 2000) g;
            UPDATE {s}.docs SET body = repeat(md5(id::text), \(bigMegabytes) * 1024 * 1024 / 32) WHERE id IN (10, 11, 1500);
            CREATE INDEX ON {s}.docs (updated_at, id);
            """)
    }

    /// Rows of 3 MB under an 8 MB cap: a few rows per batch, not 1,000 (3 GB).
    @Test func aBatchIsCappedByBytesAndEveryRowLands() throws {
        let scratch = try Scratch()
        try scratch.sql("""
            CREATE TABLE {s}.docs (id int PRIMARY KEY, updated_at timestamptz NOT NULL, body text);
            INSERT INTO {s}.docs SELECT g, '2026-01-01'::timestamptz + g * interval '1 s', repeat(md5(g::text), 3 * 1024 * 1024 / 32)
            FROM generate_series(1, 30) g;
            CREATE INDEX ON {s}.docs (updated_at, id);
            """)
        var settings = scratch.connection
        settings.batchBytes = 8 << 20
        let spec = scratch.spec(table: "docs", batchRows: 1000)
        let result = try Extractor(spec: spec, jobID: "big", connection: settings, stateDir: scratch.stateDir, logger: scratch.logger).run()
        #expect(result.state == .completed)
        #expect(result.batches >= 10, "\(result.batches) batches")
        let lengths = try scratch.kb().rows("SELECT count(*), sum(length(body) = 3 * 1024 * 1024) FROM docs")
        #expect(lengths == [[.integer(30), .integer(30)]])
    }

    @Test func aRowTooLargeForAHostedBatchFailsTheJobNamingItsKey() throws {
        let scratch = try Scratch()
        try seed(scratch, bigMegabytes: 40)
        let harness = try DaemonHarness()
        try harness.startPlane()
        try harness.enroll()
        try harness.startConnector()
        try harness.waitOnline()
        let reply = try harness.dispatch(DaemonHarness.jobBody(table: "docs", schema: scratch.schema, dest: "docs", placement: "hosted"))
        guard case .string(let id)? = reply.json["job_id"] else { throw HarnessError("dispatch: \(reply)") }
        let failed = try harness.waitForJob(id, state: "failed", seconds: 60)
        guard case .string(let message)? = failed["message"] else { throw HarnessError("no message: \(failed)") }
        #expect(message.contains("the row (id=10) holds 419430"), "\(message)")
        // The channel stayed up: the connector is still online for the next job.
        #expect(harness.log("connector1.err").contains("channel down") == false)
    }
}
