import ChannelProtocol
import ConnectorCore
import ConnectorDaemon
import Foundation
import PostgresClient
import Testing

/// The hosted sink on its own, against the real in-process outbox (no channel): its window of
/// unacknowledged batches, acknowledgements committing checkpoints in order, resends after a
/// reconnect, and a stop while it waits. Batches are real libpq results from the test server.
@Suite("Hosted sink", .enabled(if: TestDatabase.isAvailable, TestDatabase.skipReason))
struct HostedSinkTests {
    final class Commits: @unchecked Sendable {
        private let lock = NSLock()
        private var seen: [(String?, Int64)] = []
        func add(_ checkpoint: Checkpoint?, _ rows: Int64) { lock.withLock { seen.append((checkpoint?.value, rows)) } }
        var all: [(String?, Int64)] { lock.withLock { seen } }
    }

    /// The sequence numbers of the batch frames queued in the outbox.
    func queuedSeqs(_ outbox: Outbox) throws -> [Int64] {
        try outbox.drain().compactMap { item in
            guard case .binary(let bytes) = item else { return nil }
            let (tree, _) = try JSONParser.parse(bytes, leavingLastMemberRaw: "rows")
            guard case .batch(let batch)? = try ChannelMessage.decode(tree) else { return nil }
            return batch.seq
        }
    }

    func setUp() throws -> (Scratch, ExtractPlan, PostgresConnection) {
        let scratch = try Scratch()
        try scratch.sql("CREATE TABLE {s}.t (id int PRIMARY KEY, updated_at timestamptz NOT NULL); INSERT INTO {s}.t SELECT g, now() FROM generate_series(1, 30) g")
        let connection = try TestDatabase.connect()
        let table = try SourceCatalog.describe(schema: scratch.schema, table: "t", on: connection)
        let plan = try ExtractPlan.make(spec: scratch.spec(table: "t"), table: table)
        return (scratch, plan, connection)
    }

    func batch(_ connection: PostgresConnection, _ scratch: Scratch, from: Int) throws -> RowBatch {
        RowBatch(parts: [try connection.execute("SELECT id, updated_at FROM \(scratch.table("t")) WHERE id > \(from) ORDER BY id LIMIT 10")],
                 byteCount: 100)
    }

    @Test func theWindowHoldsBackTheExtractUntilThePlaneAcknowledges() throws {
        let (scratch, plan, connection) = try setUp()
        let outbox = Outbox()
        let commits = Commits()
        let stop = StopFlag()
        let sink = try HostedSink(spec: scratch.spec(table: "t"), jobID: "h1", resume: nil, outbox: outbox, window: 2,
                                  stopFlag: stop) { checkpoint, rows in commits.add(checkpoint, rows) }
        _ = try sink.open(plan: plan)
        let batches = try [0, 10, 20].map { try batch(connection, scratch, from: $0) }
        let done = StopFlag()
        let sender = Thread {
            for (index, batch) in batches.enumerated() {
                _ = try? sink.land(batch, checkpoint: Checkpoint(kind: "integer", column: "id", value: String((index + 1) * 10)))
            }
            done.raise()
        }
        sender.start()
        // The window holds two: the second send fills it and the extract waits there.
        var sent: [Int64] = []
        #expect(waitUntil(seconds: 5) { sent += (try? queuedSeqs(outbox)) ?? []; return sent == [1, 2] })
        Thread.sleep(forTimeInterval: 0.3)
        sent += try queuedSeqs(outbox)
        #expect(sent == [1, 2] && !done.isRaised && commits.all.isEmpty)
        // An acknowledgement commits batch 1's checkpoint and lets batch 3 go, which fills the window again.
        sink.acknowledge(seq: 1)
        #expect(waitUntil(seconds: 5) { sent += (try? queuedSeqs(outbox)) ?? []; return sent == [1, 2, 3] })
        #expect(commits.all.map(\.0) == ["10"] && commits.all.map(\.1) == [10])
        Thread.sleep(forTimeInterval: 0.3)
        #expect(!done.isRaised)
        sink.acknowledge(seq: 2)
        #expect(done.wait(seconds: 5))
        // A new channel: what the plane has not acknowledged goes out again.
        _ = outbox.drain()
        sink.resendUnacknowledged()
        #expect(try queuedSeqs(outbox) == [3])
        sink.acknowledge(seq: 3)
        #expect(commits.all.last.map { $0.0 == "30" && $0.1 == 30 } == true)
        #expect(try sink.totalRowsLanded() == 30)
    }

    @Test func aStopEndsAWaitForAcknowledgements() throws {
        let (scratch, plan, connection) = try setUp()
        let outbox = Outbox()
        let stop = StopFlag()
        let sink = try HostedSink(spec: scratch.spec(table: "t"), jobID: "h2", resume: nil, outbox: outbox, window: 1,
                                  stopFlag: stop) { _, _ in }
        _ = try sink.open(plan: plan)
        let first = try batch(connection, scratch, from: 0)
        let outcome = Commits()
        let sender = Thread {
            do {
                _ = try sink.land(first, checkpoint: nil)
                outcome.add(nil, 1)
            } catch {
                outcome.add(Checkpoint(kind: "x", column: nil, value: "\(error)"), 0)
            }
        }
        sender.start()
        Thread.sleep(forTimeInterval: 0.3)
        #expect(outcome.all.isEmpty)
        // The runner raises the flag and wakes the sink (Extractor.onStop): no polling.
        stop.raise()
        sink.wake()
        #expect(waitUntil(seconds: 5) { !outcome.all.isEmpty })
        #expect(outcome.all.first?.0?.contains("stopped while waiting") == true)
    }
}
