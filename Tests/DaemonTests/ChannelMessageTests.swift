import ChannelProtocol
import ConnectorCore
import Testing

@Suite("Channel messages")
struct ChannelMessageTests {
    static let messages: [ChannelMessage] = [
        .hello(Hello(name: "n", hostname: "h", os: "linux", arch: "x86_64", version: "1", capabilities: ["source:postgres"])),
        .heartbeat,
        .jobReport(JobReport(jobID: "j", reportSeq: 7, state: .completed, rowsEmitted: 9007199254740993, rowsPerSec: 12.5,
                             checkpoint: .object([("kind", .string("integer")), ("value", .string("42"))]), message: "done",
                             startedAt: "2026-01-01T00:00:00.000Z", finishedAt: "2026-01-01T00:00:01.000Z", durationMs: 1000)),
        .resumeRequest(jobID: "j"),
        .enroll(Enroll(name: "n", hostname: "h")),
        .welcome(connectorID: "c", heartbeatSeconds: 10),
        .dispatch(jobID: "j", spec: .object([("kb_id", .number("1"))]), resume: HostedResume(jobID: "j", seq: 3, checkpoint: nil, rowsLanded: 30)),
        .stop(jobID: "j"),
        .reportAck(jobID: "j", reportSeq: 7),
        .batchAck(jobID: "j", seq: 3),
        .resume(HostedResume(jobID: "j", seq: 0, checkpoint: nil, rowsLanded: 0)),
        .enrolled(connectorID: "c", credential: "s"),
        .error(code: "unauthorized", message: "invalid credential"),
    ]

    @Test(arguments: messages)
    func everyMessageRoundTrips(message: ChannelMessage) throws {
        #expect(try ChannelMessage.decode(message.encoded()) == message)
    }

    @Test func aBatchSplicesItsRowsInLastAndReadsBack() throws {
        let header = HostedBatch(jobID: "j", seq: 2, kbID: 42, destTable: "t", mode: "append", keyColumns: ["id"],
                                 columns: [.init(name: "id", dataType: "bigint", kbType: "INTEGER"), .init(name: "s", dataType: "text", kbType: "TEXT")],
                                 rows: [], checkpoint: .object([("kind", .string("integer")), ("value", .string("2"))]), final: true)
        let bytes = ChannelMessage.encodedBatch(header, rowsJSON: Array(#"[[1,"a"],[2,"b \"q\""]]"#.utf8))
        let (tree, range) = try JSONParser.parse(bytes, leavingLastMemberRaw: "rows")
        guard case .batch(let decoded)? = try ChannelMessage.decode(tree), let range else { Issue.record("not a batch"); return }
        #expect(decoded.seq == 2 && decoded.final && decoded.columns == header.columns && decoded.checkpoint == header.checkpoint)
        #expect(!decoded.inKeyOrder)
        var ordered = header
        ordered.inKeyOrder = true
        let orderedBytes = ChannelMessage.encodedBatch(ordered, rowsJSON: Array("[]".utf8))
        guard case .batch(let flagged)? = try ChannelMessage.decode(String(decoding: orderedBytes, as: UTF8.self)) else { Issue.record("not a batch"); return }
        #expect(flagged.inKeyOrder)
        #expect(String(decoding: bytes[range], as: UTF8.self) == #"[[1,"a"],[2,"b \"q\""]]"#)
        guard case .batch(let full)? = try ChannelMessage.decode(String(decoding: bytes, as: UTF8.self)) else { Issue.record("not a batch"); return }
        #expect(full.rows == [[.number("1"), .string("a")], [.number("2"), .string("b \"q\"")]])
    }

    @Test func unknownTypesAreIgnoredAndBadFieldsNamed() throws {
        #expect(try ChannelMessage.decode(#"{"type": "from_the_future", "x": 1}"#) == nil)
        #expect { try ChannelMessage.decode(#"{"type": "batch_ack", "job_id": "j", "seq": "3"}"#) } throws: {
            "\($0)" == "channel message: seq: expected an integer"
        }
        #expect { try ChannelMessage.decode(#"{"type": "job_report", "job_id": "j", "report_seq": 1, "state": "paused", "rows_emitted": 0, "rows_per_sec": 0}"#) } throws: {
            "\($0)" == "channel message: state: unknown state"
        }
    }
}

extension ChannelMessage: CustomTestStringConvertible {
    public var testDescription: String { type }
}
