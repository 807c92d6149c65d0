import ChannelProtocol
import ConnectorCore
import Logging
import Metrics
import Synchronization

/// Answers the plane's requests (browse, query, pushed configuration), each on a thread of its
/// own (they block on libpq), at most `maxConcurrent` at once; the answer goes out as a `reply`.
/// Connections are read for every request, so a pushed map applies at once.
public final class RequestHandler: Sendable {
    private let config: DaemonConfig
    private let outbox: Outbox
    private let logger: Logger
    private let inFlight = Mutex(0)

    public static let maxConcurrent = 4

    public init(config: DaemonConfig, outbox: Outbox, logger: Logger) {
        self.config = config
        self.outbox = outbox
        self.logger = logger
    }

    public func handle(_ request: PlaneRequest) {
        if request.action == PlaneRequest.Action.localConfig.rawValue {
            // Pushed maps apply one at a time, in the order the plane sent them (the caller is the
            // channel's serial control thread): the last one pushed is the one in force.
            answerAndLog(request)
            return
        }
        let admitted = inFlight.withLock { count in
            guard count < Self.maxConcurrent else { return false }
            count += 1
            return true
        }
        guard admitted else {
            send(request, .failure(RequestError(.busy, "the connector is answering \(Self.maxConcurrent) requests already; retry")))
            return
        }
        _ = OSThread(name: "timbal-request", detached: true) { [self] in
            answerAndLog(request)
            inFlight.withLock { $0 -= 1 }
        }
    }

    private func answerAndLog(_ request: PlaneRequest) {
        let startedAt = monotonicSeconds()
        let outcome: Result<JSONValue, RequestError>
        do {
            outcome = .success(try answer(request))
        } catch let error as RequestError {
            outcome = .failure(error)
        } catch {
            outcome = .failure(RequestError(.invalid, "\(error)"))
        }
        send(request, outcome)
        var metadata: Logger.Metadata = ["request.id": "\(request.requestID)", "action": "\(request.action)",
                                         "duration_ms": "\(Int((monotonicSeconds() - startedAt) * 1000))"]
        if case .failure(let error) = outcome {
            metadata["error"] = "\(error.code.rawValue): \(error.message)"
            // The cause the plane is not told (libpq's message, already without the password).
            if let detail = error.detail { metadata["detail"] = "\(detail)" }
        }
        logger.info("request answered", metadata: metadata)
        Counter(label: "timbal_requests_total", dimensions: [("action", request.action),
                                                             ("outcome", outcome.isSuccess ? "ok" : "error")]).increment()
    }

    private func send(_ request: PlaneRequest, _ outcome: Result<JSONValue, RequestError>) {
        let reply: PlaneReply
        switch outcome {
        case .success(let result):
            reply = PlaneReply(requestID: request.requestID, result: result)
        case .failure(let error):
            reply = PlaneReply(requestID: request.requestID,
                               failure: .init(code: error.code.rawValue, message: error.message, sqlState: error.sqlState))
        }
        outbox.send(ChannelMessage.reply(reply).encoded())
    }

    private func answer(_ request: PlaneRequest) throws -> JSONValue {
        guard let action = PlaneRequest.Action(rawValue: request.action) else {
            throw RequestError(.invalid, "action: \"\(request.action)\" is not one this connector answers")
        }
        if action == .localConfig {
            return try LocalConfigUpdate.apply(request.params, writingTo: config.pushedConnectionsPath)
        }
        let connections: Connections
        do { connections = try Connections.load(path: config.effectiveConnectionsPath) } catch { throw RequestError(.invalid, "\(error)") }
        let browser = SourceBrowser(connections: connections)
        let params = request.params
        switch action {
        case .browseConnections:
            return browser.connectionNames()
        case .browseTables:
            return try browser.tables(connectionRef: try Self.string(params, "connection_ref"))
        case .browseColumns, .browseTable:
            let ref = try Self.string(params, "connection_ref"), table = try Self.string(params, "table")
            let schema = try Self.string(params, "schema", default: "public")
            return action == .browseColumns
                ? try browser.columns(connectionRef: ref, schema: schema, table: table)
                : try browser.table(connectionRef: ref, schema: schema, table: table)
        case .query:
            return try AdHocQuery.run(try QueryRequest.decode(params), connections: connections)
        case .localConfig:
            preconditionFailure("answered above")
        }
    }

    private static func string(_ params: JSONValue, _ key: String, default fallback: String? = nil) throws -> String {
        switch params[key] {
        case .string(let text)? where text.utf8.contains(0):
            throw RequestError(.invalid, "\(key): must not contain a NUL character")
        case .string(let text)? where !text.isEmpty: return text
        case nil, .null?:
            if let fallback { return fallback }
            throw RequestError(.invalid, "\(key): is required")
        default:
            throw RequestError(.invalid, "\(key): expected a non-empty string")
        }
    }
}

extension Result {
    var isSuccess: Bool { if case .success = self { return true }; return false }
}
