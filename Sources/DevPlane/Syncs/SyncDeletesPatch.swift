import Hummingbird
import TimbalModel

/// PATCH of a sync's `deletes` and `reconcile_every_runs` (this project's extension): a new
/// template, checked as a create would check it.
enum SyncDeletesPatch {
    /// The sync's template with the body's changes; nil when the body changes neither field.
    static func template(_ sync: SyncRow, _ body: JSONValue) throws -> JSONValue? {
        let deletes = body.member("deletes"), runs = try SyncRequest.reconcileEveryRuns(body)
        guard deletes != nil || runs != nil else { return nil }
        var template = sync.template
        if let deletes { template = template.setting("deletes", deletes) }
        if let runs { template = template.setting(SyncRow.reconcileField, .number(String(runs))) }
        // Errors name the field: an unknown value, or no key to reconcile on, the same as a create.
        _ = try JobSpec.decode(template)
        return template
    }

    /// 422 when the sync's connector has said hello without the capability the new template needs.
    static func refusal(_ template: JSONValue, connector: PlaneStore.ConnectorRow?) throws -> Response? {
        let spec = try JobSpec.decode(template)
        guard let connector, !connector.capabilities.isEmpty,
              let missing = spec.requiredCapabilities.first(where: { !connector.capabilities.contains($0) }) else { return nil }
        return JSONResponse.error(.unprocessableContent, "connector \(connector.id) lacks capability \"\(missing)\"")
    }
}
