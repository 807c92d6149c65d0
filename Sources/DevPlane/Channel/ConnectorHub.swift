import ChannelProtocol
import TimbalModel
import WSCore

/// The live channels, one per connected connector; a newer channel replaces an older one. Also
/// the plane's questions waiting for their `reply` (browse, query, pushed configuration).
public actor ConnectorHub {
    private struct Session {
        let id: Int
        let outbound: WebSocketOutboundWriter
    }

    /// How a request to a connector ended.
    public enum Outcome: Sendable {
        case replied(PlaneReply)
        /// No channel, or it closed before the answer came.
        case offline
        case timedOut
    }

    private struct Waiter {
        let connectorID: String
        let continuation: CheckedContinuation<Outcome, Never>
        /// Ends the wait at the deadline; cancelled when the answer comes first.
        var deadline: Task<Void, Never>?
    }

    private var sessions: [String: Session] = [:]
    private var waiters: [String: Waiter] = [:]
    private var nextID = 0
    private var nextRequest = 0

    public init() {}

    /// A newer channel replaces an older one, which is closed: one live channel per connector,
    /// so nothing the plane sends (a stop, a revocation) goes to a channel it no longer reads.
    func register(_ connectorID: String, outbound: WebSocketOutboundWriter) async -> Int {
        nextID += 1
        let older = sessions[connectorID]
        sessions[connectorID] = Session(id: nextID, outbound: outbound)
        if let older {
            try? await older.outbound.close(.goingAway, reason: "replaced by a newer channel of this connector")
        }
        return nextID
    }

    func unregister(_ connectorID: String, session: Int) {
        guard sessions[connectorID]?.id == session else { return }
        sessions.removeValue(forKey: connectorID)
        // Questions that channel carried will not be answered.
        for (id, waiter) in waiters where waiter.connectorID == connectorID { finish(id, .offline) }
    }

    public func isConnected(_ connectorID: String) -> Bool { sessions[connectorID] != nil }

    /// Sends a message to a connector; false when it has no channel (or the write failed).
    @discardableResult
    public func send(_ message: ChannelMessage, to connectorID: String) async -> Bool {
        guard let session = sessions[connectorID] else { return false }
        do {
            try await session.outbound.write(.text(message.encoded()))
            return true
        } catch {
            return false
        }
    }

    /// Closes a connector's channel (revocation).
    public func disconnect(_ connectorID: String, code: String, message: String) async -> Bool {
        guard let session = sessions[connectorID] else { return false }
        try? await session.outbound.write(.text(ChannelMessage.error(code: code, message: message).encoded()))
        try? await session.outbound.close(.policyViolation, reason: code)
        return true
    }

    /// Asks a connector and waits for its reply, at most `timeoutSeconds`.
    public func ask(_ connectorID: String, action: PlaneRequest.Action, params: JSONValue, timeoutSeconds: Double) async -> Outcome {
        guard sessions[connectorID] != nil else { return .offline }
        nextRequest += 1
        let requestID = "req_\(nextRequest)_\(UInt32.random(in: 0...UInt32.max))"
        let message = ChannelMessage.request(PlaneRequest(requestID: requestID, action: action, params: params))
        return await withCheckedContinuation { continuation in
            waiters[requestID] = Waiter(connectorID: connectorID, continuation: continuation)
            Task {
                if !(await self.send(message, to: connectorID)) { self.finish(requestID, .offline) }
            }
            waiters[requestID]?.deadline = Task {
                guard (try? await Task.sleep(for: .milliseconds(Int(timeoutSeconds * 1000)))) != nil else { return }
                self.finish(requestID, .timedOut)
            }
        }
    }

    /// A connector's answer arrived.
    func deliver(_ reply: PlaneReply, from connectorID: String) {
        guard waiters[reply.requestID]?.connectorID == connectorID else { return }
        finish(reply.requestID, .replied(reply))
    }

    private func finish(_ requestID: String, _ outcome: Outcome) {
        guard let waiter = waiters.removeValue(forKey: requestID) else { return }
        waiter.deadline?.cancel()
        waiter.continuation.resume(returning: outcome)
    }
}
