import ChannelProtocol
import TimbalModel
import Hummingbird
import HummingbirdWebSocket
import Logging

/// Routes the plane answers by asking the connector over its channel: browse, query, pushed
/// configuration. 422 when the connector is offline or lacks the capability, 504 when it does
/// not answer in time; a connector's error keeps its code (mapped to a status) and SQLSTATE.
struct ConnectorRequestRoutes: Sendable {
    let config: DevPlaneConfig
    let store: PlaneStore
    let hub: ConnectorHub
    let logger: Logger

    /// Seconds a browse answer may take (it connects to the source and reads its catalog).
    static let browseTimeoutSeconds = 60.0
    /// Margin on top of a query's own `timeout_ms` (connecting, sending the rows).
    static let queryMarginSeconds = 15.0

    func register(on router: RouterGroup<BasicWebSocketRequestContext>) {
        router.get("/orgs/:org/connectors/:connector/browse/connections") { request, context in
            try await browse(.browseConnections, request, context, required: [])
        }
        router.get("/orgs/:org/connectors/:connector/browse/tables") { request, context in
            try await browse(.browseTables, request, context, required: ["connection_ref"])
        }
        router.get("/orgs/:org/connectors/:connector/browse/columns") { request, context in
            try await browse(.browseColumns, request, context, required: ["connection_ref", "table"])
        }
        router.get("/orgs/:org/connectors/:connector/browse/table") { request, context in
            try await browse(.browseTable, request, context, required: ["connection_ref", "table"])
        }
        router.post("/orgs/:org/connectors/:connector/query") { request, context in try await query(request, context) }
        router.post("/orgs/:org/connectors/:connector/local-config") { request, context in try await pushConfig(request, context) }
        router.get("/orgs/:org/connectors/:connector/local-config") { _, context in try await configPushes(context) }
    }

    /// The connector named in the path, in an org this plane serves.
    private func connector(_ context: some RequestContext) throws -> PlaneStore.ConnectorRow? {
        let org = try context.parameters.require("org")
        guard config.orgs.contains(org) else { return nil }
        return try store.connector(id: try context.parameters.require("connector"), org: org)
    }

    /// 404/422 before asking: unknown connector, offline, lacking the capability.
    private func reachable(_ context: some RequestContext, capability: String?) async throws -> Result<PlaneStore.ConnectorRow, HTTPError> {
        guard let connector = try connector(context) else {
            return .failure(HTTPError(.notFound, message: "connector \(try context.parameters.require("connector")) not found"))
        }
        guard await hub.isConnected(connector.id) else {
            return .failure(HTTPError(.unprocessableContent, message: "connector \(connector.id) is offline"))
        }
        if let capability, !connector.capabilities.contains(capability) {
            return .failure(HTTPError(.unprocessableContent, message: "connector \(connector.id) lacks capability \"\(capability)\""))
        }
        return .success(connector)
    }

    private func browse(_ action: PlaneRequest.Action, _ request: Request, _ context: some RequestContext,
                        required: [String]) async throws -> Response {
        let query = request.uri.queryParameters
        var params: [(String, JSONValue)] = []
        for key in ["connection_ref", "schema", "table"] {
            if let value = query.get(key) { params.append((key, .string(value))) }
        }
        if let missing = required.first(where: { query.get($0) == nil || query.get($0) == "" }) {
            return JSONResponse.error(.badRequest, "\(missing): is required")
        }
        return try await ask(context, action: action, params: .object(params), capability: "browse:describe",
                             timeoutSeconds: Self.browseTimeoutSeconds)
    }

    private func query(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let body: JSONValue
        do { body = try await JSONResponse.body(request) } catch { return JSONResponse.refusal(for: error) }
        guard case .object = body else { return JSONResponse.error(.badRequest, "expected a JSON object") }
        var timeoutMs = 30_000.0
        if case .number(let text)? = body["timeout_ms"], let value = Double(text) { timeoutMs = min(max(value, 1), 60_000) }
        return try await ask(context, action: .query, params: body, capability: "query:sql",
                             timeoutSeconds: timeoutMs / 1000 + Self.queryMarginSeconds)
    }

    private func ask(_ context: some RequestContext, action: PlaneRequest.Action, params: JSONValue, capability: String,
                     timeoutSeconds: Double) async throws -> Response {
        let connector: PlaneStore.ConnectorRow
        switch try await reachable(context, capability: capability) {
        case .failure(let error): return JSONResponse.error(error.status, error.body ?? "")
        case .success(let row): connector = row
        }
        switch await hub.ask(connector.id, action: action, params: params, timeoutSeconds: timeoutSeconds) {
        case .offline:
            return JSONResponse.error(.unprocessableContent, "connector \(connector.id) went offline before answering")
        case .timedOut:
            return JSONResponse.error(.gatewayTimeout, "connector \(connector.id) did not answer within \(Int(timeoutSeconds)) s")
        case .replied(let reply):
            if let failure = reply.failure { return Self.failureResponse(failure) }
            return JSONResponse.make(reply.result ?? .null)
        }
    }

    static func failureResponse(_ failure: PlaneReply.Failure) -> Response {
        let status: HTTPResponse.Status
        switch failure.code {
        case "not_found": status = .notFound
        case "forbidden": status = .forbidden
        case "source_unavailable": status = .badGateway
        case "busy": status = .tooManyRequests
        default: status = .badRequest
        }
        var members: [(String, JSONValue)] = [("error", .string(failure.message)), ("code", .string(failure.code))]
        if let state = failure.sqlState { members.append(("sqlstate", .string(state))) }
        return JSONResponse.make(.object(members), status: status)
    }

    /// `{connections?, filesystems?}`: answered 202 at once; the connector's verdict is recorded
    /// (GET on the same path lists the pushes and their outcome).
    private func pushConfig(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let body: JSONValue
        do { body = try await JSONResponse.body(request) } catch { return JSONResponse.refusal(for: error) }
        guard case .object = body else { return JSONResponse.error(.badRequest, "expected a JSON object") }
        let connections = body["connections"].flatMap { $0 == .null ? nil : $0 }
        let filesystems = body["filesystems"].flatMap { $0 == .null ? nil : $0 }
        if let connections, case .object = connections {} else if connections != nil {
            return JSONResponse.error(.badRequest, "connections: expected an object mapping names to connections")
        }
        let connector: PlaneStore.ConnectorRow
        switch try await reachable(context, capability: nil) {
        case .failure(let error): return JSONResponse.error(error.status, error.body ?? "")
        case .success(let row): connector = row
        }
        if filesystems != nil && !connector.capabilities.contains("fs:browse") {
            return JSONResponse.error(.unprocessableContent, "filesystems: connector \(connector.id) lacks capability \"fs:browse\"")
        }
        guard let connections else {
            return JSONResponse.error(.badRequest, "connections: is required (filesystems alone is not supported by this plane)")
        }
        let pushID = try store.recordPush(connectorID: connector.id)
        let hub = self.hub, store = self.store, logger = self.logger
        Task {
            let outcome = await hub.ask(connector.id, action: .localConfig, params: .object([("connections", connections)]),
                                        timeoutSeconds: Self.browseTimeoutSeconds)
            switch outcome {
            case .replied(let reply) where reply.failure == nil:
                var names: [String] = []
                if case .array(let items)? = reply.result?["connections"] {
                    names = items.compactMap { if case .string(let s) = $0 { return s }; return nil }
                }
                // The connector's warnings (a misspelt optional key, say) are part of its verdict.
                var warnings: [String] = []
                if case .array(let items)? = reply.result?["warnings"] {
                    warnings = items.compactMap { if case .string(let s) = $0 { return s }; return nil }
                }
                try? store.answerPush(id: pushID, state: "applied", message: warnings.isEmpty ? nil : warnings.joined(separator: "; "),
                                      connections: names)
                logger.info("local config applied", metadata: ["connector.id": "\(connector.id)", "push.id": "\(pushID)"])
            case .replied(let reply):
                try? store.answerPush(id: pushID, state: "refused", message: reply.failure?.message, connections: [])
                logger.warning("local config refused", metadata: ["connector.id": "\(connector.id)", "push.id": "\(pushID)",
                                                                  "reason": "\((reply.failure?.message ?? "").forLog)"])
            case .offline, .timedOut:
                try? store.answerPush(id: pushID, state: "unanswered", message: "the connector did not answer", connections: [])
            }
        }
        return JSONResponse.make(.object([("dispatched", .bool(true)), ("connections", .bool(true)),
                                          ("filesystems", .bool(false)), ("push_id", .string(pushID))]), status: .accepted)
    }

    private func configPushes(_ context: some RequestContext) async throws -> Response {
        guard let connector = try connector(context) else { return JSONResponse.error(.notFound, "connector not found") }
        return JSONResponse.make(.object([("pushes", .array(try store.pushes(connectorID: connector.id).map(\.json)))]))
    }
}
