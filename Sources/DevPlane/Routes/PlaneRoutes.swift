import ChannelProtocol
import TimbalModel
import TimbalSupport
import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging

/// The platform's public routes, as the development plane serves them (README, "Development control plane").
struct PlaneRoutes: Sendable {
    let config: DevPlaneConfig
    let store: PlaneStore
    let hostedKBs: HostedKBs
    let hub: ConnectorHub
    let channel: ChannelEndpoint
    let logger: Logger

    func register(on router: Router<BasicWebSocketRequestContext>) {
        router.get("/healthz") { _, _ in JSONResponse.make(.object([("status", .string("ok"))])) }
        let admin = router.group().add(middleware: AdminAuth(token: config.adminToken))
        admin.post("/orgs/:org/connectors/enrollment-tokens") { request, context in try await mintToken(request, context) }
        admin.get("/orgs/:org/connectors") { _, context in try await listConnectors(context) }
        admin.get("/orgs/:org/connectors/jobs") { request, context in try await listJobs(request, context) }
        admin.get("/orgs/:org/connectors/:connector") { _, context in try await showConnector(context) }
        admin.post("/orgs/:org/connectors/:connector/jobs") { request, context in try await dispatch(request, context) }
        admin.get("/orgs/:org/connectors/:connector/jobs/:job") { _, context in try await showJob(context) }
        admin.post("/orgs/:org/connectors/:connector/jobs/:job/stop") { _, context in try await stop(context) }
        admin.post("/orgs/:org/connectors/:connector/revoke") { request, context in try await revoke(request, context) }
        admin.post("/k2/:kb/query") { request, context in try await query(request, context) }
        ConnectorRequestRoutes(config: config, store: store, hub: hub, logger: logger).register(on: admin)
    }

    private func org(_ context: some RequestContext) throws -> String? {
        let org = try context.parameters.require("org")
        return config.orgs.contains(org) ? org : nil
    }

    private func mintToken(_ request: Request, _ context: some RequestContext) async throws -> Response {
        guard let org = try org(context) else { return JSONResponse.error(.notFound, "org not found") }
        let body: JSONValue
        do { body = try await JSONResponse.body(request) } catch { return JSONResponse.refusal(for: error) }
        guard case .object = body else { return JSONResponse.error(.badRequest, "expected a JSON object") }
        var ttl = 86_400
        // The platform's field is `ttl_secs`; `ttl_seconds` (this plane's first spelling) still works.
        let ttlField = body["ttl_secs"] != nil ? "ttl_secs" : "ttl_seconds"
        if let value = body[ttlField], value != .null {
            guard case .number(let text) = value, let seconds = Int(text), seconds > 0, seconds <= 30 * 86_400 else {
                return JSONResponse.error(.badRequest, "\(ttlField): must be between 1 and 2592000 (30 days)")
            }
            ttl = seconds
        }
        var name: String?
        if let value = body["name"], value != .null {
            guard case .string(let text) = value, !text.isEmpty, text.utf8.count <= 200 else {
                return JSONResponse.error(.badRequest, "name: must be a string of 1 to 200 bytes")
            }
            name = text
        }
        let minted = try store.mintEnrollmentToken(org: org, ttlSeconds: ttl, name: name)
        var answer: [(String, JSONValue)] = [("token_id", .string(minted.id)), ("token", .string(minted.token)),
                                             ("expires_at", .string(minted.expiresAt))]
        if let name { answer.append(("name", .string(name))) }
        return JSONResponse.make(.object(answer), status: .created)
    }

    private func view(_ connector: PlaneStore.ConnectorRow) async -> JSONValue {
        let connected = await hub.isConnected(connector.id)
        var online = false
        if connected, let seen = connector.lastSeenAt, let date = ISO8601DateFormatter.withFraction.date(from: seen) {
            online = Date().timeIntervalSince(date) <= config.onlineWindowSeconds
        }
        return .object([
            ("id", .string(connector.id)), ("capabilities", .array(connector.capabilities.map(JSONValue.string))),
            ("connected", .bool(connected)), ("online", .bool(online)), ("enrolled_at", .string(connector.enrolledAt)),
            ("name", .optional(connector.name)), ("hostname", .optional(connector.hostname)), ("os", .optional(connector.os)),
            ("arch", .optional(connector.arch)), ("version", .optional(connector.version)),
            ("last_seen_at", .optional(connector.lastSeenAt)),
            ("revoked", .bool(connector.revokedAt != nil)),
        ] + (connector.revokedAt.map { [("revoked_at", .string($0))] } ?? []))
    }

    private func listConnectors(_ context: some RequestContext) async throws -> Response {
        guard let org = try org(context) else { return JSONResponse.error(.notFound, "org not found") }
        var views: [JSONValue] = []
        for connector in try store.connectors(org: org) { views.append(await view(connector)) }
        return JSONResponse.make(.object([("connectors", .array(views))]))
    }

    private func showConnector(_ context: some RequestContext) async throws -> Response {
        guard let org = try org(context) else { return JSONResponse.error(.notFound, "org not found") }
        let id = try context.parameters.require("connector")
        guard let connector = try store.connector(id: id, org: org) else { return JSONResponse.error(.notFound, "connector \(id) not found") }
        return JSONResponse.make(await view(connector))
    }

    static func view(_ job: PlaneStore.JobRow) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("id", .string(job.id)), ("connector_id", .string(job.connectorID)), ("kb_uid", .string(String(job.kbID))),
            ("kind", .string("extract")), ("dest_table", .string(job.destTable)), ("mode", .string(job.mode)),
            ("placement", .string(job.placement)), ("state", .string(job.state)), ("rows_emitted", .int(job.rowsEmitted)),
            ("created_at", .string(job.createdAt)), ("updated_at", .string(job.updatedAt)),
        ]
        if let v = job.startedAt { members.append(("started_at", .string(v))) }
        if let v = job.rowsDeleted { members.append(("rows_deleted", .int(v))) }
        if let v = job.finishedAt { members.append(("finished_at", .string(v))) }
        if let v = job.durationMs {
            members.append(("duration_ms", .int(v)))
        } else if !job.isTerminal, let started = job.startedAt.flatMap(ISO8601DateFormatter.withFraction.date(from:)) {
            // A running job's duration is "to now".
            members.append(("duration_ms", .int(Int64(Date().timeIntervalSince(started) * 1000))))
        }
        // Extensions: where the job stands (its last committed checkpoint) and the time left.
        if let text = job.checkpoint, let checkpoint = try? JSONParser.parse(text) { members.append(("current_cursor", checkpoint)) }
        if !job.isTerminal, let eta = job.etaSeconds { members.append(("eta_s", .number(twoDecimals(eta)))) }
        if job.rowsPerSec > 0 { members.append(("rows_per_sec", .number(twoDecimals(job.rowsPerSec)))) }
        if let v = job.message { members.append(("message", .string(v))) }
        if let v = job.syncID { members.append(("sync_id", .string(v))) }
        return .object(members)
    }

    private func listJobs(_ request: Request, _ context: some RequestContext) async throws -> Response {
        guard let org = try org(context) else { return JSONResponse.error(.notFound, "org not found") }
        let connectorID = request.uri.queryParameters.get("connector_id")
        return JSONResponse.make(.object([("jobs", .array(try store.jobs(org: org, connectorID: connectorID).map(Self.view)))]))
    }

    private func showJob(_ context: some RequestContext) async throws -> Response {
        guard let org = try org(context) else { return JSONResponse.error(.notFound, "org not found") }
        let id = try context.parameters.require("job")
        guard let job = try store.job(id: id, org: org) else { return JSONResponse.error(.notFound, "job \(id) not found") }
        return JSONResponse.make(Self.view(job))
    }

    /// Validates the dispatch body as the contract says, records the job, sends it, answers 202.
    /// `?skip_checks=true` (development only) skips the 422 checks, to see how a connector fails such a job.
    private func dispatch(_ request: Request, _ context: some RequestContext) async throws -> Response {
        guard let org = try org(context) else { return JSONResponse.error(.notFound, "org not found") }
        let connectorID = try context.parameters.require("connector")
        let spec: JobSpec
        let body: JSONValue
        do {
            body = try await JSONResponse.body(request)
            spec = try JobSpec.decode(body)
        } catch {
            return JSONResponse.refusal(for: error)
        }
        guard let connector = try store.connector(id: connectorID, org: org) else {
            return JSONResponse.error(.notFound, "connector \(connectorID) not found")
        }
        guard config.kbs.contains(spec.kbID) else { return JSONResponse.error(.notFound, "kb_id: knowledge base \(spec.kbID) not found") }
        let skipChecks = request.uri.queryParameters.get("skip_checks") == "true"
        if !skipChecks {
            guard await hub.isConnected(connectorID) else {
                return JSONResponse.error(.unprocessableContent, "connector \(connectorID) is offline")
            }
            if let missing = spec.requiredCapabilities.first(where: { !connector.capabilities.contains($0) }) {
                return JSONResponse.error(.unprocessableContent, "connector \(connectorID) lacks capability \"\(missing)\"")
            }
        }
        let dispatcher = JobDispatcher(store: store, hub: hub, channel: channel)
        let (jobID, _) = try await dispatcher.dispatch(org: org, connectorID: connectorID, spec: spec, body: body)
        return JSONResponse.make(.object([("job_id", .string(jobID))]), status: .accepted)
    }

    private func stop(_ context: some RequestContext) async throws -> Response {
        guard let org = try org(context) else { return JSONResponse.error(.notFound, "org not found") }
        let connectorID = try context.parameters.require("connector")
        let id = try context.parameters.require("job")
        guard let job = try store.job(id: id, org: org), job.connectorID == connectorID else {
            return JSONResponse.error(.notFound, "job \(id) not found")
        }
        if !job.isTerminal {
            try store.markStopped(id: id)
            await hub.send(.stop(jobID: id), to: connectorID)
        }
        // The platform's answer: `stopped` if this call ended the job, else the state it already had.
        let state = try store.job(id: id, org: org)?.state ?? job.state
        return JSONResponse.make(.object([("job_id", .string(id)), ("state", .string(state))]))
    }

    /// The credential dies: the channel is torn down with `error {revoked}`, reconnects are refused,
    /// open jobs are stopped and the connector's syncs disabled.
    private func revoke(_ request: Request, _ context: some RequestContext) async throws -> Response {
        guard let org = try org(context) else { return JSONResponse.error(.notFound, "org not found") }
        // No body is needed; a malformed one is refused rather than acted on.
        do {
            guard case .object = try await JSONResponse.body(request) else { return JSONResponse.error(.badRequest, "expected a JSON object or no body") }
        } catch {
            return JSONResponse.refusal(for: error)
        }
        let connectorID = try context.parameters.require("connector")
        guard try store.revoke(connectorID: connectorID, org: org) else {
            return JSONResponse.error(.notFound, "connector \(connectorID) not found")
        }
        let stoppedSyncs = try store.disableSyncs(connectorID: connectorID, reason: "the connector was revoked")
        let disconnected = await hub.disconnect(connectorID, code: "revoked", message: "this connector was revoked; enroll again")
        logger.warning("connector revoked", metadata: ["connector.id": "\(connectorID)", "disconnected": "\(disconnected)"])
        return JSONResponse.make(.object([("connector_id", .string(connectorID)), ("disconnected", .bool(disconnected)),
                                          ("stopped_syncs", .int(Int64(stoppedSyncs)))]))
    }

    private func query(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let kbText = try context.parameters.require("kb")
        guard let kbID = Int64(kbText), config.kbs.contains(kbID) else { return JSONResponse.error(.notFound, "knowledge base \(kbText) not found") }
        let body: JSONValue
        do { body = try await JSONResponse.body(request) } catch { return JSONResponse.refusal(for: error) }
        guard case .string(let sql)? = body["sql"], !sql.isEmpty else { return JSONResponse.error(.badRequest, "sql: is required") }
        var timeoutMs = 10_000
        if let value = body["timeout_ms"], value != .null {
            guard case .number(let text) = value, let ms = Int(text), ms >= 1, ms <= 60_000 else {
                return JSONResponse.error(.badRequest, "timeout_ms: expected an integer from 1 to 60000")
            }
            timeoutMs = ms
        }
        // SQLite blocks: the query runs on a thread of its own, never on the server's pool.
        let kbs = hostedKBs, seconds = Double(timeoutMs) / 1000
        do {
            return JSONResponse.make(try await BlockingThread.run { try kbs.query(kbID: kbID, sql: sql, timeoutSeconds: seconds) })
        } catch let error as HostedKBs.QueryError {
            return JSONResponse.error(.badRequest, error.message)
        }
    }
}

/// Bearer auth for the platform routes.
struct AdminAuth<Context: RequestContext>: RouterMiddleware {
    let token: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard ChannelEndpoint.bearer(request) == token else {
            return JSONResponse.error(.unauthorized, "missing or invalid bearer token")
        }
        return try await next(request, context)
    }
}

extension ISO8601DateFormatter {
    nonisolated(unsafe) static let withFraction: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }()
}
