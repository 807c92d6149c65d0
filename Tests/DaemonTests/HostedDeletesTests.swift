import ChannelProtocol
import ConnectorCore
@testable import ConnectorDaemon
import DevPlane
import Foundation
import SQLiteStore
import Testing

/// `deletes` on the plane's side of the channel: a reconcile slice rides the batch sequence, lands
/// once however often it is resent, only for a job dispatched with `deletes`; a connector whose
/// hello lacks `extract:deletes` gets no such job or sync (422).
@Suite("Hosted deletes over the channel", .serialized)
struct HostedDeletesTests {
    typealias Plane = ChannelClientTests.Plane
    typealias Failure = ChannelClientTests.Failure

    func dispatch(_ plane: Plane, to connector: String, deletes: String, checks: Bool = false) async throws -> JSONValue {
        try await plane.call("POST", "/orgs/org_dev/connectors/\(connector)/jobs\(checks ? "" : "?skip_checks=true")", """
            {"kb_id": 42, "dest_table": "orders", "placement": "hosted", "mode": "append", "key_columns": ["id"], "deletes": "\(deletes)",
             "source": {"kind": "postgres", "connection_ref": "shop", "table": "orders", "cursor_column": "id"}}
            """)
    }

    func ids(_ plane: Plane, _ sql: String = "SELECT id FROM orders ORDER BY id") throws -> [Int64] {
        try SQLiteDatabase(path: plane.directory + "/plane/kb/42.sqlite", readOnly: true).rows(sql).map {
            if case .integer(let id) = $0[0] { return id }
            return -1
        }
    }

    func slice(job: String, seq: Int64, deletes: String, keys: [Int64], after: Int64? = nil) -> HostedBatch {
        var batch = HostedBatch.orders(job: job, seq: seq)
        batch.deletes = deletes
        batch.reconcile = HostedReconcile(deletes: deletes, keyKinds: ["integer"], after: after.map { [String($0)] }, through: nil,
                                          keys: keys.map { [String($0)] })
        return batch
    }

    @Test(arguments: ["hard", "soft"])
    func aResentSliceAppliesOnce(deletes: String) async throws {
        let plane = try await Plane()
        let (_, credential) = try await plane.enroll(stateDir: plane.directory + "/c")
        guard case .string(let job)? = try await dispatch(plane, to: credential.connectorID, deletes: deletes)["job_id"] else {
            throw Failure("no job")
        }
        try await HostileChannel.open(plane.url, secret: credential.secret) { channel in
            guard case .welcome? = try await channel.hello() else { throw Failure("no welcome") }
            var first = HostedBatch.orders(job: job, seq: 1)
            first.deletes = deletes
            try await channel.sendBatch(first, rows: #"[[1, "a"], [2, "b"], [3, "c"], [4, "d"], [5, "e"]]"#)
            guard case .batchAck(job, 1)? = try await channel.next() else { throw Failure("seq 1 not landed") }
            // The source has 1, 3 and 5 from 1 on: 2 and 4 go. Sent twice, as after a reconnect.
            for _ in 1...2 {
                try await channel.sendBatch(slice(job: job, seq: 2, deletes: deletes, keys: [3, 5], after: 1), rows: "[]")
                let answer = try await channel.next()
                guard case .batchAck(job, 2)? = answer else { throw Failure("slice not acknowledged: \(String(describing: answer))") }
            }
        }
        if deletes == "hard" {
            #expect(try ids(plane) == [1, 3, 5])
        } else {
            #expect(try ids(plane) == [1, 2, 3, 4, 5])
            #expect(try ids(plane, "SELECT id FROM orders WHERE _timbal_deleted_at IS NOT NULL ORDER BY id") == [2, 4])
        }
        let view = try await plane.call("GET", "/orgs/org_dev/connectors/\(credential.connectorID)/jobs/\(job)")
        #expect(view["rows_deleted"] == .number("2"))
    }

    @Test func aSliceForAJobDispatchedWithKeepIsRefused() async throws {
        let plane = try await Plane()
        let (_, credential) = try await plane.enroll(stateDir: plane.directory + "/c")
        guard case .string(let job)? = try await dispatch(plane, to: credential.connectorID, deletes: "keep")["job_id"] else {
            throw Failure("no job")
        }
        try await HostileChannel.open(plane.url, secret: credential.secret) { channel in
            guard case .welcome? = try await channel.hello() else { throw Failure("no welcome") }
            try await channel.sendBatch(.orders(job: job, seq: 1), rows: #"[[1, "a"], [2, "b"]]"#)
            guard case .batchAck(job, 1)? = try await channel.next() else { throw Failure("seq 1 not landed") }
            var forged = slice(job: job, seq: 2, deletes: "hard", keys: [])
            forged.deletes = nil
            try await channel.sendBatch(forged, rows: "[]")
            guard case .error("batch_refused", let message)? = try await channel.next() else { throw Failure("slice not refused") }
            #expect(message.contains("deletes: a reconcile slice"), "\(message)")
        }
        #expect(try ids(plane) == [1, 2])
    }

    @Test func aConnectorWithoutTheCapabilityGetsNoDeletesJobOrSync() async throws {
        let plane = try await Plane()
        let (_, credential) = try await plane.enroll(stateDir: plane.directory + "/c")
        let connector = credential.connectorID
        try await HostileChannel.open(plane.url, secret: credential.secret) { channel in
            // This hello lists source:postgres and kb:local only.
            guard case .welcome? = try await channel.hello() else { throw Failure("no welcome") }
            let refused = try await dispatch(plane, to: connector, deletes: "hard", checks: true)
            #expect(refused["error"] == .string("connector \(connector) lacks capability \"extract:deletes\""))
            let kept = try await dispatch(plane, to: connector, deletes: "keep", checks: true)
            #expect(kept["job_id"] != nil, "\(kept)")
            let sync = """
                {"kb_id": 42, "dest_table": "orders2", "placement": "hosted", "interval_secs": 3600, "deletes": "soft",
                 "source": {"kind": "postgres", "connection_ref": "shop", "table": "orders", "cursor_column": "id"}}
                """
            let syncRefused = try await plane.call("POST", "/orgs/org_dev/connectors/\(connector)/syncs", sync)
            #expect(syncRefused["error"] == .string("connector \(connector) lacks capability \"extract:deletes\""))
            let created = try await plane.call("POST", "/orgs/org_dev/connectors/\(connector)/syncs",
                                               sync.replacingOccurrences(of: "\"soft\"", with: "\"keep\""))
            guard case .string(let syncID)? = created["sync_id"] else { throw Failure("no sync: \(created)") }
            let patched = try await plane.call("PATCH", "/orgs/org_dev/connectors/\(connector)/syncs/\(syncID)", #"{"deletes": "hard"}"#)
            #expect(patched["error"] == .string("connector \(connector) lacks capability \"extract:deletes\""))
            let badRuns = try await plane.call("PATCH", "/orgs/org_dev/connectors/\(connector)/syncs/\(syncID)", #"{"reconcile_every_runs": 0}"#)
            #expect(badRuns["error"] == .string("reconcile_every_runs: must be between 1 and 2147483647, got 0"))
            let badValue = try await plane.call("PATCH", "/orgs/org_dev/connectors/\(connector)/syncs/\(syncID)", #"{"deletes": "purge"}"#)
            #expect(badValue["error"] == .string(#"deletes: "purge" is not one of keep, hard, soft"#))
        }
    }
}
