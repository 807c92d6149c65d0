import ChannelProtocol
import ConnectorCore
@testable import ConnectorDaemon
import DevPlane
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import SQLiteStore
import Testing

/// A connector holding a valid credential, turned hostile: batches for jobs that are not its own,
/// for KBs the plane does not serve, with forged seqs and SQL in `kb_type`; a channel that says no
/// hello and outlives its revocation. The plane runs in this process; the channels are real.
@Suite("Hostile channel against the plane", .serialized)
struct HostileChannelTests {
    typealias Plane = ChannelClientTests.Plane
    typealias Failure = ChannelClientTests.Failure

    /// Enrolls a connector and returns its id and secret.
    func enroll(_ plane: Plane, _ name: String) async throws -> (id: String, secret: String) {
        let (_, credential) = try await plane.enroll(stateDir: plane.directory + "/\(name)")
        return (credential.connectorID, credential.secret)
    }

    /// Dispatches a hosted job writing `orders` in KB 42 to `connector` (not running a daemon).
    func dispatch(_ plane: Plane, to connector: String, mode: String = "append") async throws -> String {
        let answer = try await plane.call("POST", "/orgs/org_dev/connectors/\(connector)/jobs?skip_checks=true", """
            {"kb_id": 42, "dest_table": "orders", "placement": "hosted", "mode": "\(mode)", "key_columns": ["id"],
             "source": {"kind": "postgres", "connection_ref": "shop", "table": "orders", "cursor_column": "id"}}
            """)
        guard case .string(let id)? = answer["job_id"] else { throw Failure("dispatch: \(answer)") }
        return id
    }

    func job(_ plane: Plane, _ connector: String, _ id: String) async throws -> JSONValue {
        try await plane.call("GET", "/orgs/org_dev/connectors/\(connector)/jobs/\(id)")
    }

    func rows(_ plane: Plane) throws -> [[SQLiteValue]] {
        try SQLiteDatabase(path: plane.directory + "/plane/kb/42.sqlite", readOnly: true).rows("SELECT id, note FROM orders ORDER BY id")
    }

    /// The victim lands seq 1 of its job (rows 1 and 2) as a real connector would.
    func landFirstBatch(_ plane: Plane, victim: (id: String, secret: String), job: String) async throws {
        try await HostileChannel.open(plane.url, secret: victim.secret) { channel in
            guard case .welcome? = try await channel.hello() else { throw Failure("no welcome") }
            try await channel.sendBatch(.orders(job: job, seq: 1), rows: #"[[1, "real"], [2, "real"]]"#)
            let answer = try await channel.next()
            guard case .batchAck(job, 1)? = answer else { throw Failure("expected batch_ack 1, got \(String(describing: answer))") }
        }
    }

    @Test func anotherConnectorsBatchForAJobLandsNothing() async throws {
        let plane = try await Plane()
        let victim = try await enroll(plane, "victim"), hostile = try await enroll(plane, "hostile")
        let jobID = try await dispatch(plane, to: victim.id)
        try await landFirstBatch(plane, victim: victim, job: jobID)
        try await HostileChannel.open(plane.url, secret: hostile.secret) { channel in
            guard case .welcome? = try await channel.hello() else { throw Failure("no welcome") }
            // Overwrite a row by key and add one, under the victim's job id and its next seqs.
            for seq: Int64 in [2, 40, 399] {
                try await channel.sendBatch(.orders(job: jobID, seq: seq), rows: #"[[1, "forged"], [3, "forged"]]"#)
                guard case .error("batch_refused", let message)? = try await channel.next() else { throw Failure("seq \(seq) not refused") }
                #expect(message.contains("not a job dispatched to this connector"))
            }
        }
        #expect(try rows(plane) == [[.integer(1), .text("real")], [.integer(2), .text("real")]])
        // The victim's job is untouched: still open, and its next batch is seq 2.
        #expect(try await job(plane, victim.id, jobID)["state"] != .string("failed"))
        try await HostileChannel.open(plane.url, secret: victim.secret) { channel in
            _ = try await channel.hello()
            try await channel.sendBatch(.orders(job: jobID, seq: 2), rows: #"[[3, "real"]]"#)
            guard case .batchAck(jobID, 2)? = try await channel.next() else { throw Failure("victim's seq 2 not landed") }
        }
        #expect(try rows(plane).count == 3)
    }

    @Test(arguments: [("job_made_up", Int64(42)), ("job_made_up", Int64(31337)), ("job_made_up", Int64(-1))])
    func aBatchForNoDispatchedJobCreatesNothing(job: String, kb: Int64) async throws {
        let plane = try await Plane()
        let hostile = try await enroll(plane, "hostile")
        try await HostileChannel.open(plane.url, secret: hostile.secret) { channel in
            _ = try await channel.hello()
            try await channel.sendBatch(.orders(job: job, seq: 1, kb: kb), rows: #"[[1, "x"]]"#)
            guard case .error("batch_refused", _)? = try await channel.next() else { throw Failure("not refused") }
        }
        #expect(!FileManager.default.fileExists(atPath: plane.directory + "/plane/kb/\(kb).sqlite"))
    }

    /// The job's own connector sending what was not dispatched: refused, and the job fails.
    @Test(arguments: ["kb_id", "dest_table", "mode", "key_columns", "seq", "kb_type", "reserved"])
    func aBatchUnlikeItsDispatchIsRefusedAndFailsTheJob(field: String) async throws {
        let plane = try await Plane()
        let owner = try await enroll(plane, "owner")
        let jobID = try await dispatch(plane, to: owner.id)
        let attackFile = plane.directory + "/attached.sqlite"
        var batch = HostedBatch.orders(job: jobID, seq: 1)
        switch field {
        case "kb_id": batch.kbID = 1
        case "dest_table": batch.destTable = "other"
        case "mode": batch.mode = "replace"
        case "key_columns": batch.keyColumns = ["note"]
        case "seq": batch.seq = .max
        case "kb_type":
            batch.columns[1].kbType = "TEXT); COMMIT; ATTACH '\(attackFile)' AS p; CREATE TABLE p.x (a); --"
        default:
            batch.destTable = "_timbal_jobs"
        }
        let sent = batch
        try await HostileChannel.open(plane.url, secret: owner.secret) { channel in
            _ = try await channel.hello()
            try await channel.sendBatch(sent, rows: #"[[1, "x"]]"#)
            guard case .error("batch_refused", let message)? = try await channel.next() else { throw Failure("not refused") }
            #expect(message.contains(field == "reserved" ? "dest_table" : field == "kb_type" ? "kb_type" : field))
            guard case .stop(jobID)? = try await channel.next() else { throw Failure("no stop") }
        }
        #expect(try await job(plane, owner.id, jobID)["state"] == .string("failed"))
        #expect(!FileManager.default.fileExists(atPath: attackFile))
        let kb = plane.directory + "/plane/kb/42.sqlite"
        if FileManager.default.fileExists(atPath: kb) {
            #expect(try SQLiteDatabase(path: kb, readOnly: true).rows("SELECT 1 FROM sqlite_schema WHERE name = 'orders'").isEmpty)
        }
    }

    @Test func aChannelRevokedBeforeItsHelloGetsNoWelcome() async throws {
        let plane = try await Plane()
        let hostile = try await enroll(plane, "hostile")
        try await HostileChannel.open(plane.url, secret: hostile.secret) { channel in
            // Open, say nothing, get revoked, then say hello.
            let revoke = try await plane.call("POST", "/orgs/org_dev/connectors/\(hostile.id)/revoke")
            #expect(revoke["connector_id"] == .string(hostile.id))
            guard case .error("revoked", _)? = try await channel.hello() else { throw Failure("welcomed after revocation") }
        }
        let view = try await plane.call("GET", "/orgs/org_dev/connectors/\(hostile.id)")
        #expect(view["revoked"] == .bool(true) && view["connected"] == .bool(false))
    }

    @Test func aSocketThatSaysNothingIsClosedAfterTenSeconds() async throws {
        let plane = try await Plane()
        let hostile = try await enroll(plane, "hostile")
        let started = Date()
        async let channel: Void = HostileChannel.open(plane.url, secret: hostile.secret) { channel in
            guard case .error("timeout", _)? = try await channel.next(seconds: 30) else { throw Failure("channel not timed out") }
            #expect(try await channel.next(seconds: 30) == nil)
        }
        async let enrollment: Void = HostileChannel.open(plane.url, secret: "tok_unknown", path: "/v1/connect/enroll") { channel in
            guard case .error("timeout", _)? = try await channel.next(seconds: 30) else { throw Failure("enrollment not timed out") }
        }
        _ = try await (channel, enrollment)
        #expect(Date().timeIntervalSince(started) < 25)
    }

    @Test func aResumeFromThePlaneOutOfRangeFailsTheJobNotTheDaemon() throws {
        for (seq, rows) in [(Int64.max, Int64(0)), (-1, 0), (5, Int64.max)] {
            #expect(throws: (any Error).self) { try HostedSink.checkedResume(HostedResume(jobID: "j", seq: seq, checkpoint: nil, rowsLanded: rows)) }
        }
        let error = #expect(throws: HostedSinkError.self) {
            try HostedSink.checkedResume(HostedResume(jobID: "j", seq: .max, checkpoint: nil, rowsLanded: 0))
        }
        #expect(error?.description == "resume.seq: the control plane said 9223372036854775807, expected 0 to 9007199254740992; the job cannot resume from it")
        #expect(try HostedSink.checkedResume(HostedResume(jobID: "j", seq: 7, checkpoint: nil, rowsLanded: 70)) == (8, 70))
    }
}
