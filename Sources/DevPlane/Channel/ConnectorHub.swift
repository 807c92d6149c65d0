import ChannelProtocol
import WSCore

/// The live channels, one per connected connector; a newer channel replaces an older one.
public actor ConnectorHub {
    private struct Session {
        let id: Int
        let outbound: WebSocketOutboundWriter
    }

    private var sessions: [String: Session] = [:]
    private var nextID = 0

    public init() {}

    func register(_ connectorID: String, outbound: WebSocketOutboundWriter) -> Int {
        nextID += 1
        sessions[connectorID] = Session(id: nextID, outbound: outbound)
        return nextID
    }

    func unregister(_ connectorID: String, session: Int) {
        if sessions[connectorID]?.id == session { sessions.removeValue(forKey: connectorID) }
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
}
