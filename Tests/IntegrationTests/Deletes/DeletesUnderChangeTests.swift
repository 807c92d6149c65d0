import ConnectorCore
import Foundation
import PostgresClient
import SQLiteStore
import Testing

/// The reconciliation while the source changes under it, after a kill, and its refusals.
@Suite("Deletes under change, kill and bad input", .enabled(if: TestDatabase.isAvailable, TestDatabase.skipReason), .serialized)
struct DeletesUnderChangeTests {
    /// Deletes and reinserts stable keys in one transaction (so every snapshot sees them), updates
    /// them, deletes victims and inserts new keys, until stopped.
    final class Churn: @unchecked Sendable {
        let connection: PostgresConnection
        let table: String
        private let stopFlag = StopFlag()
        private var thread: Thread?
        private(set) var failure: String?

        init(table: String) throws {
            connection = try TestDatabase.connect()
            self.table = table
        }

        func start(victims: ClosedRange<Int>, fresh: Int) {
            let thread = Thread { [self] in
                var next = fresh
                var victim = victims.lowerBound
                while !stopFlag.isRaised {
                    let key = Int.random(in: 1...2000)
                    do {
                        try connection.execute("BEGIN; DELETE FROM \(table) WHERE id = \(key); INSERT INTO \(table) VALUES (\(key), now(), 'reinserted'); COMMIT")
                        try connection.execute("UPDATE \(table) SET title = 'updated', updated_at = now() WHERE id = \(Int.random(in: 1...2000))")
                        if victim <= victims.upperBound { try connection.execute("DELETE FROM \(table) WHERE id = \(victim)"); victim += 1 }
                        try connection.execute("INSERT INTO \(table) VALUES (\(next), now(), 'new')")
                        next += 1
                    } catch {
                        failure = "\(error)"
                        _ = try? connection.execute("ROLLBACK")
                    }
                }
            }
            self.thread = thread
            thread.start()
        }

        func stop() {
            stopFlag.raise()
            _ = waitUntil(seconds: 10) { thread?.isFinished ?? true }
        }
    }

    @Test func deleteAndReinsertDuringThePassNeverRemovesAnExistingRow() throws {
        let scratch = try Scratch()
        try scratch.sql("""
            CREATE TABLE {s}.events (id int PRIMARY KEY, updated_at timestamptz NOT NULL, title text);
            INSERT INTO {s}.events SELECT g, now() - interval '1 day', 'v1' FROM generate_series(1, 3000) g;
            """)
        // Paced so the pass spans many slices while the churn runs.
        let spec = scratch.deleting(scratch.spec(table: "events", batchRows: 500, pacing: Pacing(maxRowsPerSec: 20_000)), .hard)
        try scratch.extract(spec, jobID: "c")
        let churn = try Churn(table: scratch.table("events"))
        churn.start(victims: 2001...3000, fresh: 100_000)
        var deleted: Int64 = 0
        for _ in 1...20 {
            let result = try scratch.extract(spec, jobID: "c")
            deleted += result.rowsDeleted ?? 0
            // Keys 1...2000 exist in every snapshot of the source: none may leave the KB.
            let kb = Set(try scratch.kbIntegers("id", table: "events"))
            #expect(Set(Int64(1)...2000).isSubset(of: kb))
        }
        churn.stop()
        #expect(churn.failure == nil)
        #expect(deleted > 0)
        // Quiet again: one more run leaves the KB's keys exactly the source's.
        try scratch.extract(spec, jobID: "c")
        #expect(try scratch.kbIntegers("id", table: "events") == scratch.sourceIntegers("id", table: "events"))
    }

    func files(_ scratch: Scratch, name: String, pacing: String) throws -> [String] {
        let job = """
            {"kb_id": 1, "dest_table": "events", "batch_rows": 5000, "placement": "local", "mode": "create", "deletes": "hard",
             "pacing": \(pacing),
             "source": {"kind": "postgres", "connection_ref": "pg", "schema": "\(scratch.schema)", "table": "events", "cursor_column": "updated_at"}}
            """
        try job.write(toFile: "\(scratch.stateDir)/\(name).json", atomically: true, encoding: .utf8)
        try #"{"pg": {"kind": "postgres", "dsn": "\#(TestDatabase.dsn)"}}"#.write(toFile: "\(scratch.stateDir)/connections.json", atomically: true, encoding: .utf8)
        return ["extract", "--job", "\(scratch.stateDir)/\(name).json", "--connections", "\(scratch.stateDir)/connections.json",
                "--state-dir", scratch.stateDir, "--job-id", "killme"]
    }

    @Test func killedDuringThePassLosesNoRowAndARerunFinishesIt() throws {
        let scratch = try Scratch()
        try scratch.sql("""
            CREATE TABLE {s}.events (id int PRIMARY KEY, updated_at timestamptz NOT NULL, title text);
            INSERT INTO {s}.events SELECT g, '2026-01-01'::timestamptz + g * interval '1 second', 'v1' FROM generate_series(1, 20000) g;
            """)
        let fast = try files(scratch, name: "fast", pacing: "null")
        let first = try ConnectorBinary.run(fast, logDirectory: scratch.stateDir, name: "load")
        #expect(first.status == 0 && first.stdout.contains("rows_deleted=0"))
        try scratch.sql("DELETE FROM {s}.events WHERE id % 2 = 0")
        let source = Set(try scratch.sourceIntegers("id", table: "events"))
        let slow = try files(scratch, name: "slow", pacing: #"{"max_rows_per_sec": 3000}"#)
        let process = try ConnectorBinary.start(slow, logDirectory: scratch.stateDir, name: "slow")
        // Killed once the pass has removed some rows and not all.
        let midway = try waitUntil(seconds: 30) {
            let count = try scratch.kbIntegers("id", table: "events").count
            return count < 19_000 && count > 11_000
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(midway)
        let afterKill = Set(try scratch.kbIntegers("id", table: "events"))
        #expect(source.isSubset(of: afterKill))
        let rerun = try ConnectorBinary.run(fast, logDirectory: scratch.stateDir, name: "rerun")
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(Set(try scratch.kbIntegers("id", table: "events")) == source)
        #expect(rerun.stdout.contains("rows_deleted="))
    }

    @Test func badInputIsRefusedByNameBeforeAnyRowMoves() throws {
        #expect {
            try JobSpec.decode(json: #"{"kb_id": 1, "dest_table": "t", "deletes": "purge", "source": {"kind": "postgres", "connection_ref": "c", "table": "t"}}"#)
        } throws: { "\($0)" == #"deletes: "purge" is not one of keep, hard, soft"# }
        #expect {
            try JobSpec.decode(json: #"{"kb_id": 1, "dest_table": "t", "deletes": true, "source": {"kind": "postgres", "connection_ref": "c", "table": "t"}}"#)
        } throws: { "\($0)".hasPrefix("deletes: ") }

        let scratch = try Scratch()
        try scratch.sql("""
            CREATE TABLE {s}.keyless (id int, updated_at timestamptz NOT NULL);
            CREATE TABLE {s}.clash (id int PRIMARY KEY, updated_at timestamptz NOT NULL, "_timbal_deleted_at" text);
            CREATE TABLE {s}.priced (price numeric PRIMARY KEY, updated_at timestamptz NOT NULL);
            INSERT INTO {s}.keyless VALUES (1, now()); INSERT INTO {s}.clash VALUES (1, now(), 'x'); INSERT INTO {s}.priced VALUES (1.5, now());
            """)
        // The keyless table as a snapshot (with a cursor it would already be refused for its ties).
        for (table, cursor, choice, words) in [("keyless", nil, DeletesChoice.hard, "no primary key"),
                                               ("clash", "updated_at", .soft, "_timbal_deleted_at"),
                                               ("priced", "updated_at", .hard, "numeric")] {
            #expect {
                try scratch.extract(scratch.deleting(scratch.spec(table: table, cursor: cursor), choice), jobID: table)
            } throws: { "\($0)".hasPrefix("deletes: ") && "\($0)".contains(words) }
            // Nothing was created nor landed.
            let tables = try scratch.kb().rows("SELECT count(*) FROM sqlite_schema WHERE name = ?", [.text(table)])
            #expect(tables == [[.integer(0)]])
        }
        // The clash is fine with hard: nothing is marked.
        try scratch.extract(scratch.deleting(scratch.spec(table: "clash"), .hard), jobID: "clash-hard")
    }
}
