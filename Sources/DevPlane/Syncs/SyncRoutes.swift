import Foundation
import Hummingbird
import HummingbirdWebSocket
import SQLiteStore
import TimbalModel

/// The platform's sync routes (docs/syncs.md): recurring extracts the plane keeps and starts.
struct SyncRoutes: Sendable {
    let config: DevPlaneConfig
    let store: PlaneStore
    let hostedKBs: HostedKBs
    let scheduler: SyncScheduler

    static let recentRuns = 20

    func register(on router: Router<BasicWebSocketRequestContext>) {
        let admin = router.group().add(middleware: AdminAuth(token: config.adminToken))
        // A literal segment wins over `:connector` in Hummingbird's trie, whatever the order.
        admin.get("/orgs/:org/connectors/syncs") { _, context in try await answer { try await list(context, byConnector: false) } }
        admin.get("/orgs/:org/connectors/:connector/syncs") { _, context in try await answer { try await list(context, byConnector: true) } }
        admin.post("/orgs/:org/connectors/:connector/syncs") { request, context in try await answer { try await create(request, context) } }
        admin.get("/orgs/:org/connectors/:connector/syncs/:sync") { _, context in try await answer { try await show(context) } }
        admin.patch("/orgs/:org/connectors/:connector/syncs/:sync") { request, context in
            try await answer { try await update(request, context) }
        }
        admin.delete("/orgs/:org/connectors/:connector/syncs/:sync") { _, context in try await answer { try await delete(context) } }
        admin.post("/orgs/:org/connectors/:connector/syncs/:sync/run") { _, context in try await answer { try await runNow(context) } }
    }

    /// A handler's answer, or the error response it threw.
    private func answer(_ handler: () async throws -> Response) async throws -> Response {
        do {
            return try await handler()
        } catch let error as SyncRouteError {
            return JSONResponse.error(error.status, error.message)
        }
    }

    private func org(_ context: some RequestContext) throws -> String? {
        let org = try context.parameters.require("org")
        return config.orgs.contains(org) ? org : nil
    }

    private func view(_ sync: SyncRow) throws -> JSONValue {
        SyncView.view(sync, try store.syncProgress(sync))
    }

    private func list(_ context: some RequestContext, byConnector: Bool) async throws -> Response {
        guard let org = try org(context) else { return JSONResponse.error(.notFound, "org not found") }
        let connectorID = byConnector ? try context.parameters.require("connector") : nil
        if let connectorID, try store.connector(id: connectorID, org: org) == nil {
            return JSONResponse.error(.notFound, "connector \(connectorID) not found")
        }
        let views = try store.syncs(org: org, connectorID: connectorID).map(view)
        return JSONResponse.make(.object([("syncs", .array(views))]))
    }

    /// The sync named by the path; 404 otherwise.
    private func lookup(_ context: some RequestContext) throws -> SyncRow {
        guard let org = try org(context) else { throw SyncRouteError(.notFound, "org not found") }
        let connectorID = try context.parameters.require("connector")
        let id = try context.parameters.require("sync")
        guard let sync = try store.sync(id: id, org: org), sync.connectorID == connectorID else {
            throw SyncRouteError(.notFound, "sync \(id) not found")
        }
        return sync
    }

    /// A revoked connector runs nothing: its syncs were disabled and stay so.
    private func refuseRevokedConnector(_ sync: SyncRow) throws {
        if try store.connector(id: sync.connectorID, org: sync.orgID)?.revokedAt != nil {
            throw SyncRouteError(.unprocessableContent, "connector \(sync.connectorID) was revoked")
        }
    }

    private func show(_ context: some RequestContext) async throws -> Response {
        let sync = try lookup(context)
        let runs = try store.recentSyncRuns(syncID: sync.id, limit: Self.recentRuns)
        return JSONResponse.make(.object([
            ("sync", try view(sync)), ("stats", SyncView.stats(try store.syncStats(syncID: sync.id))),
            ("recent_runs", .array(runs.map(SyncView.run))),
        ]))
    }

    private func update(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let sync = try lookup(context)
        let enabled: Bool?, interval: Int64?, template: JSONValue?
        do {
            let body = try await JSONResponse.body(request)
            enabled = try SyncRequest.enabled(body)
            interval = try SyncRequest.intervalSecs(body, required: false)
            template = try SyncDeletesPatch.template(sync, body)
        } catch {
            return JSONResponse.refusal(for: error)
        }
        guard enabled != nil || interval != nil || template != nil else {
            return JSONResponse.error(.badRequest, "body: give enabled, interval_secs, deletes and/or reconcile_every_runs")
        }
        if enabled == true { try refuseRevokedConnector(sync) }
        if let template {
            if let refusal = try SyncDeletesPatch.refusal(template, connector: try store.connector(id: sync.connectorID, org: sync.orgID)) {
                return refusal
            }
            try store.updateSyncTemplate(id: sync.id, template: template)
        }
        try store.updateSync(id: sync.id, enabled: enabled, intervalSecs: interval)
        guard let updated = try store.sync(id: sync.id, org: sync.orgID) else { return JSONResponse.error(.notFound, "sync \(sync.id) not found") }
        return JSONResponse.make(.object([("sync", try view(updated))]))
    }

    /// Removes the sync; a run already started finishes as an ordinary job.
    private func delete(_ context: some RequestContext) async throws -> Response {
        let sync = try lookup(context)
        try store.deleteSync(id: sync.id)
        return JSONResponse.make(.object([("sync_id", .string(sync.id)), ("deleted", .bool(true))]))
    }

    private func runNow(_ context: some RequestContext) async throws -> Response {
        let sync = try lookup(context)
        try refuseRevokedConnector(sync)
        switch try await scheduler.runNow(sync) {
        case .started(let jobID, let sent):
            return JSONResponse.make(.object([("sync_id", .string(sync.id)), ("dispatched", .bool(sent)), ("job_id", .string(jobID))]),
                                     status: .accepted)
        case .busy(let open):
            var members: [(String, JSONValue)] = [("error", .string("sync \(sync.id) has a run in progress\(open.map { " (job \($0))" } ?? ""); one run at a time"))]
            if let open { members.append(("job_id", .string(open))) }
            return JSONResponse.make(.object(members), status: .conflict)
        }
    }

    // MARK: create

    private func create(_ request: Request, _ context: some RequestContext) async throws -> Response {
        guard let org = try org(context) else { return JSONResponse.error(.notFound, "org not found") }
        let connectorID = try context.parameters.require("connector")
        let parsed: SyncRequest
        do {
            parsed = try SyncRequest.parse(try await JSONResponse.body(request))
        } catch {
            return JSONResponse.refusal(for: error)
        }
        let spec = parsed.spec
        guard let connector = try store.connector(id: connectorID, org: org) else {
            return JSONResponse.error(.notFound, "connector \(connectorID) not found")
        }
        guard config.kbs.contains(spec.kbID) else { return JSONResponse.error(.notFound, "kb_id: knowledge base \(spec.kbID) not found") }
        if connector.revokedAt != nil { return JSONResponse.error(.unprocessableContent, "connector \(connectorID) was revoked") }
        // Only a connector that has said hello has known capabilities.
        if !connector.capabilities.isEmpty, let missing = spec.requiredCapabilities.first(where: { !connector.capabilities.contains($0) }) {
            return JSONResponse.error(.unprocessableContent, "connector \(connectorID) lacks capability \"\(missing)\"")
        }
        if let other = try store.sync(keeping: spec.kbID, destTable: spec.destTable, placement: spec.placement.rawValue) {
            return JSONResponse.error(.conflict, "dest_table: sync \(other.id) already keeps \"\(spec.destTable)\" in \(spec.placement.rawValue) KB \(spec.kbID); one sync per table")
        }
        let adopted = try destExists(spec) && parsed.existingDest == .adopt
        var firstCursor = parsed.startCursor
        if adopted && spec.source.cursorColumn != nil {
            firstCursor = try parsed.initialCursor ?? adoptedCheckpoint(spec) ?? parsed.startCursor
        }
        let now = PlaneStore.timestamp()
        let sync = SyncRow(
            id: PlaneStore.randomToken("sync_"), orgID: org, connectorID: connectorID, name: parsed.name, kbID: spec.kbID,
            destTable: spec.destTable, placement: spec.placement.rawValue, template: parsed.template, keyColumns: spec.keyColumns,
            intervalSecs: parsed.intervalSecs, enabled: true, disabledReason: nil, rebuildFirst: parsed.existingDest == .replace,
            initialCursor: firstCursor?.serialized(), failuresSince: nil, createdAt: now, updatedAt: now)
        // The first run's job must be one the spec accepts, as a dispatched one would be.
        do {
            _ = try JobSpec.decode(try sync.nextJobBody(SyncProgress(consecutiveFailures: 0)))
        } catch {
            return JSONResponse.error(.badRequest, "\(error)")
        }
        try store.createSync(sync)
        var answer: [(String, JSONValue)] = [
            ("sync_id", .string(sync.id)), ("adopted_dest_table", .bool(adopted)),
            ("key_columns", .array(spec.keyColumns.map(JSONValue.string))),
        ]
        if let firstCursor { answer.append(("initial_cursor", firstCursor)) }
        return JSONResponse.make(.object(answer), status: .created)
    }

    /// Whether `dest_table` exists: a hosted KB is looked at; a local one the plane cannot see, so
    /// it exists when a job of this plane targeted it.
    private func destExists(_ spec: JobSpec) throws -> Bool {
        guard spec.placement == .hosted else {
            return try store.planeTargeted(kbID: spec.kbID, destTable: spec.destTable, placement: spec.placement.rawValue)
        }
        let path = hostedKBs.path(kbID: spec.kbID)
        guard FileManager.default.fileExists(atPath: path) else { return false }
        let kb = try SQLiteDatabase(path: path, readOnly: true)
        return try !kb.rows("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?", [.text(spec.destTable)]).isEmpty
    }

    /// An adopted table's checkpoint: the last one the most recent completed job on it reported,
    /// if it is for this sync's cursor column.
    private func adoptedCheckpoint(_ spec: JobSpec) throws -> JSONValue? {
        guard let text = try store.lastCompletedCheckpoint(kbID: spec.kbID, destTable: spec.destTable, placement: spec.placement.rawValue),
              let value = try? JSONParser.parse(text), let checkpoint = try? Checkpoint.decode(value, field: "checkpoint") else { return nil }
        if let column = checkpoint.column, column != spec.source.cursorColumn { return nil }
        return value
    }
}

struct SyncRouteError: Error {
    let status: HTTPResponse.Status
    let message: String
    init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }
}
