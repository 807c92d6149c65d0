import TimbalModel
import SQLiteStore

/// Pushed configurations and what the connector answered. Only the outcome is kept: the map
/// (DSNs included) is forwarded to the connector and never stored or logged by the plane.
extension PlaneStore {
    public struct ConfigPush: Sendable {
        public var id: String
        public var connectorID: String
        /// `pending`, `applied`, `refused` or `unanswered` (offline or timed out).
        public var state: String
        public var message: String?
        /// The connection names the connector now has (after `applied`).
        public var connections: [String]
        public var createdAt: String
        public var answeredAt: String?

        var json: JSONValue {
            var members: [(String, JSONValue)] = [("push_id", .string(id)), ("state", .string(state)),
                                                  ("created_at", .string(createdAt))]
            if let message { members.append(("message", .string(message))) }
            if state == "applied" { members.append(("connections", .array(connections.map(JSONValue.string)))) }
            if let answeredAt { members.append(("answered_at", .string(answeredAt))) }
            return .object(members)
        }
    }

    private func ensurePushTable() throws {
        try database.execute(
            """
            CREATE TABLE IF NOT EXISTS config_pushes (
                id TEXT PRIMARY KEY, connector_id TEXT NOT NULL, state TEXT NOT NULL, message TEXT,
                connections TEXT NOT NULL DEFAULT '[]', created_at TEXT NOT NULL, answered_at TEXT)
            """)
    }

    func recordPush(connectorID: String) throws -> String {
        let id = Self.randomToken("push_")
        try lock.withLock {
            try ensurePushTable()
            _ = try database.rows("INSERT INTO config_pushes (id, connector_id, state, created_at) VALUES (?, ?, 'pending', ?)",
                                  [.text(id), .text(connectorID), .text(Self.timestamp())])
        }
        return id
    }

    func answerPush(id: String, state: String, message: String?, connections: [String]) throws {
        try lock.withLock {
            try ensurePushTable()
            let names = JSONValue.array(connections.map(JSONValue.string)).serialized()
            _ = try database.rows("UPDATE config_pushes SET state = ?, message = ?, connections = ?, answered_at = ? WHERE id = ?",
                                  [.text(state), message.map(SQLiteValue.text) ?? .null, .text(names), .text(Self.timestamp()), .text(id)])
        }
    }

    func pushes(connectorID: String) throws -> [ConfigPush] {
        try lock.withLock {
            try ensurePushTable()
            return try database.rows(
                "SELECT id, state, message, connections, created_at, answered_at FROM config_pushes WHERE connector_id = ? ORDER BY created_at DESC",
                [.text(connectorID)]).map { row in
                var names: [String] = []
                if let text = row[3].text, case .array(let items)? = try? JSONParser.parse(text) {
                    names = items.compactMap { if case .string(let s) = $0 { return s }; return nil }
                }
                return ConfigPush(id: row[0].text ?? "", connectorID: connectorID, state: row[1].text ?? "", message: row[2].text,
                                  connections: names, createdAt: row[4].text ?? "", answeredAt: row[5].text)
            }
        }
    }
}
