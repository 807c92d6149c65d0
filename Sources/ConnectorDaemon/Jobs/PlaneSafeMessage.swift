import ConnectorCore
import PostgresClient

/// What a failed job tells the control plane: the reason in one line, naming the
/// `connection_ref`, never the host, port or user that libpq quotes in its connection errors
/// (those stay in the connector's own log).
enum PlaneSafeMessage {
    static func describe(_ error: Error, connectionRef: String?) -> String {
        let ref = connectionRef.map { "connection \"\($0)\"" } ?? "the source connection"
        switch error {
        case let postgres as PostgresError:
            switch postgres.kind {
            case .connectRefused:
                return "source: \(ref): the server refused the login, or the DSN is invalid (details in the connector's log)"
            case .connect:
                return "source: \(ref): could not connect (details in the connector's log)"
            case .connectionLost where postgres.sqlState == nil:
                return "source: \(ref): the connection was lost (details in the connector's log)"
            default:
                return "\(postgres)"
            }
        case ExtractError.retriesExhausted(let attempts, let last):
            let inner = describe(last, connectionRef: connectionRef)
            return "source: gave up after \(attempts) retries; last error: " + (inner.hasPrefix("source: ") ? String(inner.dropFirst(8)) : inner)
        default:
            return "\(error)"
        }
    }
}
