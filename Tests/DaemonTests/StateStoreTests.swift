import ChannelProtocol
import ConnectorCore
import ConnectorDaemon
import Foundation
import Testing

@Suite("State DB and outbox")
struct StateStoreTests {
    let store: StateStore

    init() throws {
        store = try StateStore(stateDir: NSTemporaryDirectory() + "timbal-state-\(UUID().uuidString.prefix(8))")
    }

    @Test func reportsAreNumberedOnceAndTerminalStatesStick() throws {
        #expect(try store.accept(jobID: "j", spec: "{}"))
        #expect(try !store.accept(jobID: "j", spec: "{}"))
        let accepted = try store.record(jobID: "j", .init(state: .accepted))
        let running = try store.record(jobID: "j", .init(state: .running, rowsEmitted: 10))
        let done = try store.record(jobID: "j", .init(state: .completed, rowsEmitted: 20, checkpoint: #"{"kind":"integer","value":"20"}"#))
        #expect(accepted?.reportSeq == 1 && running?.reportSeq == 2 && done?.reportSeq == 3)
        #expect(done?.checkpoint == .object([("kind", .string("integer")), ("value", .string("20"))]))
        #expect(done?.startedAt != nil && done?.finishedAt != nil && done?.durationMs != nil)
        // A late change (a progress report racing the end) does not reopen a finished job.
        #expect(try store.record(jobID: "j", .init(state: .running)) == nil)
        #expect(try store.report(jobID: "j")?.state == .completed)
        #expect(try store.unacknowledgedJobs() == ["j"])
        try store.acknowledge(jobID: "j", reportSeq: 2)
        #expect(try store.unacknowledgedJobs() == ["j"])
        try store.acknowledge(jobID: "j", reportSeq: 3)
        #expect(try store.unacknowledgedJobs().isEmpty)
        #expect(try store.unfinishedJobs().isEmpty)
    }

    @Test func unfinishedJobsAreTheOnesToResume() throws {
        _ = try store.accept(jobID: "a", spec: #"{"placement":"local"}"#)
        _ = try store.accept(jobID: "b", spec: "{}")
        try store.record(jobID: "b", .init(state: .failed, message: "boom"))
        #expect(try store.unfinishedJobs().map(\.jobID) == ["a"])
        #expect(try store.recentJobs(limit: 10).map(\.jobID).sorted() == ["a", "b"])
    }

    @Test func theOutboxCoalescesReportsAndKeepsFramesInOrder() {
        let outbox = Outbox()
        outbox.reportChanged(jobID: "j")
        outbox.send("first")
        outbox.reportChanged(jobID: "j")
        outbox.send(bytes: [1, 2])
        let items = outbox.drain()
        #expect(items.count == 3)
        if case .report(let id) = items[0] { #expect(id == "j") } else { Issue.record("report first") }
        if case .frame(let text) = items[1] { #expect(text == "first") } else { Issue.record("frame second") }
        if case .binary(let bytes) = items[2] { #expect(bytes == [1, 2]) } else { Issue.record("binary third") }
        #expect(outbox.drain().isEmpty)
    }
}
