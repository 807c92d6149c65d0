import ConnectorCore
import Foundation
import PostgresClient
import SQLiteStore
import Testing

/// Tables whose cursor does not follow the key (rows updated at random): a first load reads by
/// key and catches up by cursor from a high-water mark; merges arrive in any key order.
@Suite("Any order", .enabled(if: TestDatabase.isAvailable, TestDatabase.skipReason), .serialized)
struct AnyOrderTests {
    /// `id, v` of every row, in id order, from the source and from the KB.
    func contents(_ scratch: Scratch, table: String) throws -> (source: [String], kb: [String]) {
        let result = try scratch.sql("SELECT id, v FROM {s}.\(table) ORDER BY id")
        let source = (0..<result.rowCount).map { "\(result.string($0, 0)!)=\(result.string($0, 1) ?? "NULL")" }
        let kb = try scratch.kb().rows("SELECT id, v FROM \(table) ORDER BY id").map { "\($0[0])=\($0[1])" }
        return (source, kb)
    }

    /// 20,000 rows whose `updated_at` is random over the past year (no relation to `id`), and a few
    /// stamped an hour from now, so the high-water mark lies after the `now()` of later writers.
    func seedUncorrelated(_ scratch: Scratch, table: String, rows: Int = 20_000) throws {
        try scratch.sql("""
            CREATE TABLE {s}.\(table) (id bigserial PRIMARY KEY, updated_at timestamptz NOT NULL DEFAULT now(), v text);
            INSERT INTO {s}.\(table) (updated_at, v)
            SELECT now() - random() * interval '365 days', 'v1' FROM generate_series(1, \(rows));
            UPDATE {s}.\(table) SET updated_at = clock_timestamp() + interval '1 hour' WHERE id % 5000 = 0;
            CREATE INDEX ON {s}.\(table) (updated_at, id);
            ANALYZE {s}.\(table);
            """)
    }

    /// A delete ahead of the load is copied if the segment that reads its key took its snapshot
    /// before the delete (a 1 s segment covers this whole load): with `deletes: keep` that row
    /// stays, as any row deleted after it was read does; with `deletes: hard` the run's
    /// reconciliation removes it and the KB equals the source.
    @Test(arguments: [DeletesChoice.keep, .hard])
    func aFirstLoadByKeyIsExactWhileRowsChangeBehindAndAheadOfIt(deletes: DeletesChoice) throws {
        let scratch = try Scratch()
        try seedUncorrelated(scratch, table: "t")
        // W's now() is fixed before the run (and before the high-water mark); it writes later.
        let late = try TestDatabase.connect()
        try late.execute("BEGIN; SELECT now()")
        let writer = try TestDatabase.connect()
        let t = scratch.table("t")
        var step = 0
        var sawKeyPass = false
        var spec = scratch.spec(table: "t", batchRows: 500, mode: .append)
        spec.deletes = deletes
        var deleted = 0
        let result = try scratch.extractor(spec, jobID: "by-key").run { progress in
            guard let keyPass = progress.checkpoint?.keyPass, let last = keyPass.first.flatMap({ Int($0.value) }) else { return }
            sawKeyPass = true
            step += 1
            guard step == 2 else { return }
            // Behind the load (already copied): a plain update, and W's update stamped with its old start.
            must { _ = try writer.execute("UPDATE \(t) SET v = 'after-copy', updated_at = now() WHERE id = 10") }
            must { _ = try late.execute("UPDATE \(t) SET v = 'late', updated_at = now() WHERE id = 20; COMMIT") }
            // Ahead of it (not copied yet): an update, a delete, an insert with an old cursor value.
            must { _ = try writer.execute("UPDATE \(t) SET v = 'before-copy', updated_at = now() WHERE id = \(last + 5_000)") }
            deleted = last + 6_000
            must { _ = try writer.execute("DELETE FROM \(t) WHERE id = \(deleted)") }
            must { _ = try writer.execute("INSERT INTO \(t) (updated_at, v) VALUES ('2001-01-01', 'old-cursor')") }
        }
        #expect(sawKeyPass)
        #expect(step >= 2)
        #expect(result.state == .completed)
        #expect(result.keyOrderRows >= 20_000)
        // The catch-up re-read the rows changed behind the load, and only a few more.
        #expect(result.rowsLanded - result.keyOrderRows < 500)
        let (source, kb) = try contents(scratch, table: "t")
        #expect(source.count == 20_000)
        #expect(kb.filter { deletes == .hard || $0 != "\(deleted)=v1" } == source)
        if deletes == .hard {
            #expect(kb == source)
            #expect(result.rowsDeleted == 0 || result.rowsDeleted == 1)  // 1 when the load copied it before its delete
        } else {
            #expect(result.rowsDeleted == nil)
        }
        #expect(kb.contains("10=after-copy") && kb.contains("20=late") && kb.contains("20001=old-cursor"))
        // The run ends with an ordinary cursor checkpoint: the next run is incremental.
        #expect(result.checkpoint?.keyPass == nil)
        #expect(result.checkpoint?.column == "updated_at")
    }

    /// A sync's next run is a new job whose `cursor` is the stopped run's checkpoint: a load by key
    /// stopped halfway goes on by key there (read from its mark, the rest of the keys would be lost).
    @Test func aStoppedLoadsCheckpointGivenToANewJobGoesOnByKey() throws {
        let scratch = try Scratch()
        try seedUncorrelated(scratch, table: "h")
        let first = scratch.extractor(scratch.spec(table: "h", batchRows: 500, mode: .append), jobID: "run-1")
        var seen = 0
        let stopped = try first.run { progress in
            guard progress.checkpoint?.keyPass != nil else { return }
            seen += 1
            if seen == 3 { first.stop() }
        }
        #expect(stopped.state == .stopped)
        guard let handedOn = stopped.checkpoint, let last = handedOn.keyPass?.first.flatMap({ Int($0.value) }) else {
            Issue.record("no load-by-key checkpoint: \(String(describing: stopped.checkpoint))"); return
        }
        #expect(last < 20_000)
        let next = try scratch.extract(scratch.spec(table: "h", batchRows: 500, mode: .append, resume: handedOn), jobID: "run-2")
        #expect(next.state == .completed)
        #expect(next.keyOrderRows == Int64(20_000 - last))
        let (source, kb) = try contents(scratch, table: "h")
        #expect(kb == source)
        #expect(next.checkpoint?.keyPass == nil)
    }

    /// Without an index on a timestamptz cursor the mark is the load's own start: the catch-up
    /// finds nothing, and the run still ends on a plain cursor checkpoint (a `key_pass` one would
    /// say "unfinished" to whoever is handed it); the next run reads what changed since.
    @Test func aLoadWhoseCatchUpFindsNothingEndsOnAPlainCheckpoint() throws {
        let scratch = try Scratch()
        try scratch.sql("""
            CREATE TABLE {s}.p (id bigserial PRIMARY KEY, updated_at timestamptz NOT NULL, v text);
            INSERT INTO {s}.p (updated_at, v) SELECT now() - random() * interval '365 days', 'v1' FROM generate_series(1, 3000);
            """)
        let spec = scratch.spec(table: "p", batchRows: 500, mode: .append)
        let loaded = try scratch.extract(spec, jobID: "plain")
        #expect(loaded.state == .completed && loaded.keyOrderRows == 3_000)
        #expect(loaded.checkpoint?.keyPass == nil)
        #expect(loaded.checkpoint?.value != nil)
        try scratch.sql("UPDATE {s}.p SET v = 'v2', updated_at = now() WHERE id IN (5, 2999)")
        let next = try scratch.extract(spec, jobID: "plain")
        #expect(next.rowsLanded >= 2 && next.rowsLanded < 100 && next.keyOrderRows == 0)
        let (source, kb) = try contents(scratch, table: "p")
        #expect(kb == source)
    }

    /// The mark is the cursor's largest value in the cursor's own order (as text, 999 would pass
    /// for the largest of 1...3000): the catch-up then reads only the mark's row again.
    @Test func theMarkIsTheLargestValueInTheCursorsOrder() throws {
        let scratch = try Scratch()
        try scratch.sql("""
            CREATE TABLE {s}.n (id bigint PRIMARY KEY, version bigint NOT NULL, v text);
            INSERT INTO {s}.n SELECT g, (g * 7919) % 3001, 'v1' FROM generate_series(1, 3000) g;
            CREATE INDEX ON {s}.n (version, id);
            """)
        let loaded = try scratch.extract(scratch.spec(table: "n", cursor: "version", batchRows: 500, mode: .append), jobID: "mark")
        #expect(loaded.keyOrderRows == 3_000)
        #expect(loaded.rowsLanded - loaded.keyOrderRows == 1)
        #expect(loaded.checkpoint?.value == "3000")
    }

    /// A cursor type with no max() aggregate (uuid) still gets its mark.
    @Test func aUUIDCursorLoadsByKey() throws {
        let scratch = try Scratch()
        try scratch.sql("""
            CREATE TABLE {s}.u (id bigserial PRIMARY KEY, ver uuid NOT NULL DEFAULT gen_random_uuid(), v text);
            INSERT INTO {s}.u (v) SELECT 'v1' FROM generate_series(1, 2000);
            CREATE INDEX ON {s}.u (ver, id);
            """)
        let spec = scratch.spec(table: "u", cursor: "ver", batchRows: 300, mode: .append)
        let loaded = try scratch.extract(spec, jobID: "uuid")
        #expect(loaded.state == .completed && loaded.keyOrderRows == 2_000)
        try scratch.sql("UPDATE {s}.u SET v = 'v2', ver = 'ffffffff-ffff-ffff-ffff-ffffffffffff' WHERE id = 7")
        #expect(try scratch.extract(spec, jobID: "uuid").state == .completed)
        let (source, kb) = try contents(scratch, table: "u")
        #expect(kb == source && kb.contains("7=v2"))
    }

    /// Runs a statement of the moving world from a callback that cannot throw: a failure is the test's.
    func must(_ body: () throws -> Void) {
        do { try body() } catch { Issue.record("a concurrent statement failed: \(error)") }
    }

    @Test func aMergeWhoseRowsArriveInReverseKeyOrderLandsExactly() throws {
        let scratch = try Scratch()
        try seedUncorrelated(scratch, table: "r", rows: 10_000)
        let spec = scratch.spec(table: "r", batchRows: 300, mode: .append)
        #expect(try scratch.extract(spec, jobID: "reverse").state == .completed)
        // 4,000 rows change, the highest id first: cursor order is the reverse of key order.
        try scratch.sql("""
            UPDATE {s}.r SET v = 'v2', updated_at = now() + interval '1 day' + (20000 - id) * interval '1 ms' WHERE id % 5 <> 0 AND id > 5000;
            UPDATE {s}.r SET v = 'v3', updated_at = now() + interval '2 days' WHERE id = 7001;
            """)
        let merge = try scratch.extract(spec, jobID: "reverse")
        #expect(merge.state == .completed)
        #expect(merge.keyOrderRows == 0)
        #expect(merge.rowsMerged == merge.rowsLanded)
        #expect(merge.rowsLanded >= 4_000)
        let (source, kb) = try contents(scratch, table: "r")
        #expect(kb == source)
        #expect(kb.contains("7001=v3"))
        let record = try LocalKB(stateDir: scratch.stateDir, kbID: 1).jobRecord("reverse")!
        #expect(record.checkpoint?.value != nil && record.state == "completed")
    }

    @Test func aStopDuringAStagedMergeCommitsWhatWasReadAndTheRerunFinishes() throws {
        let scratch = try Scratch()
        try seedUncorrelated(scratch, table: "s", rows: 6_000)
        // Paced: the source goes quiet between batches, so each staged batch is committed then.
        let spec = scratch.spec(table: "s", batchRows: 200, mode: .append, pacing: Pacing(batchDelayMs: 700))
        #expect(try scratch.extract(scratch.spec(table: "s", batchRows: 2_000, mode: .append), jobID: "staged-stop").state == .completed)
        try scratch.sql("UPDATE {s}.s SET v = 'v2', updated_at = now() + interval '1 day' + (10000 - id) * interval '1 ms'")
        let extractor = scratch.extractor(spec, jobID: "staged-stop")
        let stopped = try extractor.run { progress in
            if progress.batches == 3 { extractor.stop() }
        }
        #expect(stopped.state == .stopped)
        // What the stopped run committed is exactly what its checkpoint says it read.
        let record = try LocalKB(stateDir: scratch.stateDir, kbID: 1).jobRecord("staged-stop")!
        let changed = try scratch.kb().rows("SELECT count(*) FROM s WHERE v = 'v2'")
        let boundary = record.checkpoint!.tiebreaker.first!.value
        let expected = try scratch.sql("SELECT count(*) FROM {s}.s WHERE id >= \(boundary)").string(0, 0)!
        #expect(changed == [[.integer(Int64(expected)!)]])
        let rerun = try scratch.extract(spec, jobID: "staged-stop")
        #expect(rerun.state == .completed)
        let (source, kb) = try contents(scratch, table: "s")
        #expect(kb == source)
    }

    @Test func killedDuringAFirstLoadByKeyResumesWhereItWas() throws {
        let scratch = try Scratch()
        try scratch.sql("""
            CREATE TABLE {s}.k (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL, v text, pad text);
            INSERT INTO {s}.k SELECT g, '2026-01-01'::timestamptz + random() * interval '300 days', 'v1', repeat(md5(g::text), 4)
            FROM generate_series(1, 300000) g;
            CREATE INDEX ON {s}.k (updated_at, id);
            ANALYZE {s}.k;
            """)
        let job = """
            {"kb_id": 1, "dest_table": "k", "batch_rows": 20000, "placement": "local", "mode": "create",
             "source": {"kind": "postgres", "connection_ref": "pg", "schema": "\(scratch.schema)", "table": "k", "cursor_column": "updated_at"}}
            """
        try job.write(toFile: "\(scratch.stateDir)/job.json", atomically: true, encoding: .utf8)
        try #"{"pg": {"kind": "postgres", "dsn": "\#(TestDatabase.dsn)"}}"#.write(toFile: "\(scratch.stateDir)/connections.json", atomically: true, encoding: .utf8)
        let arguments = ["extract", "--job", "\(scratch.stateDir)/job.json", "--connections", "\(scratch.stateDir)/connections.json",
                         "--state-dir", scratch.stateDir, "--job-id", "killme"]
        // Read-only, beside the running connector.
        func record() -> (rowsLanded: Int64, checkpoint: Checkpoint?)? {
            guard let kb = try? SQLiteDatabase(path: LocalKB.path(stateDir: scratch.stateDir, kbID: 1), readOnly: true),
                  let row = try? kb.rows("SELECT rows_landed, checkpoint FROM _timbal_jobs WHERE job_id = 'killme'").first,
                  case .integer(let rows) = row[0] else { return nil }
            return (rows, row[1].text.flatMap { try? Checkpoint.decode(json: $0, field: "checkpoint") })
        }
        let process = try ConnectorBinary.start(arguments, logDirectory: scratch.stateDir, name: "first")
        #expect(waitUntil(seconds: 60) { (record()?.rowsLanded ?? 0) >= 40_000 })
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)

        // The KB holds exactly the keys up to the checkpoint's, and the checkpoint says so.
        let killed = try #require(record())
        let keyPass = try #require(killed.checkpoint?.keyPass)
        let last = try #require(keyPass.first.flatMap { Int64($0.value) })
        #expect(killed.rowsLanded == last && last < 300_000)
        #expect(try scratch.kb().rows("SELECT count(*), min(id), max(id) FROM k").first
                == [.integer(last), .integer(1), .integer(last)])
        // Rows change while it is down: behind the checkpoint and ahead of it.
        try scratch.sql("UPDATE {s}.k SET v = 'v2', updated_at = now() WHERE id IN (5, \(last + 1000))")

        let rerun = try ConnectorBinary.run(arguments, logDirectory: scratch.stateDir, name: "second")
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(rerun.stdout.contains("resumed_from=\"first load by key at id=\(last)"))
        // It went on from the checkpoint: it did not read the table again.
        let rows = rerun.stdout.split(separator: " ").first { $0.hasPrefix("rows=") }.flatMap { Int64($0.dropFirst(5)) }
        #expect((rows ?? .max) < 300_000 - last + 1_000)
        let (source, kb) = try contents(scratch, table: "k")
        #expect(kb == source)
    }

    @Test func aLoadByKeyWithNoCursorValueYetIsFollowedByIncrementalRuns() throws {
        let scratch = try Scratch()
        try scratch.sql("""
            CREATE TABLE {s}.n (id bigint PRIMARY KEY, updated_at timestamptz, v text);
            INSERT INTO {s}.n SELECT g, NULL, 'v1' FROM generate_series(1, 3000) g;
            CREATE INDEX ON {s}.n (updated_at, id);
            """)
        let spec = scratch.spec(table: "n", batchRows: 700, mode: .append)
        let first = try scratch.extract(spec, jobID: "nulls")
        #expect(first.state == .completed && first.keyOrderRows == 3_000 && first.rowsLanded == 3_000)
        // No mark (no row had a cursor value), and a catch-up that found nothing: the load's checkpoint stays.
        #expect(first.checkpoint?.keyPass?.first?.value == "3000" && first.checkpoint?.value == nil)
        try scratch.sql("UPDATE {s}.n SET v = 'v2', updated_at = now() WHERE id % 1000 = 7")
        let second = try scratch.extract(spec, jobID: "nulls")
        #expect(second.state == .completed && second.keyOrderRows == 0 && second.rowsLanded == 3)
        let (source, kb) = try contents(scratch, table: "n")
        #expect(kb == source)
        #expect(second.checkpoint?.keyPass == nil && second.checkpoint?.value != nil)
    }
}
