import TimbalModel

/// A create-sync body, validated: every problem is a `JobSpecError` naming the field, as the
/// dispatch route reports them (400).
struct SyncRequest: Sendable {
    enum ExistingDest: String, Sendable { case adopt, replace }

    /// The job each run repeats (job spec fields only; `mode` and `cursor` are chosen per run).
    var template: JSONValue
    /// The template decoded, for its KB, table, placement and source.
    var spec: JobSpec
    var intervalSecs: Int64
    var name: String?
    var existingDest: ExistingDest
    /// Validated checkpoints, kept as given: the connector gets them back verbatim.
    var startCursor: JSONValue?
    var initialCursor: JSONValue?

    static let jobFields = ["kb_id", "dest_table", "placement", "batch_rows", "pacing", "key_columns", "source", "deletes",
                            SyncRow.reconcileField]

    static func parse(_ body: JSONValue) throws -> SyncRequest {
        guard case .object(let members) = body else {
            throw JobSpecError(field: "body", problem: "expected an object, got \(body.typeName)")
        }
        var template = JSONValue.object(members.filter { jobFields.contains($0.0) })
        template = withKeyColumnsSelected(template)
        _ = try reconcileEveryRuns(body)
        let spec = try JobSpec.decode(template)
        return SyncRequest(
            template: template, spec: spec,
            intervalSecs: try intervalSecs(body, required: true)!,
            name: try string(body, "name"),
            existingDest: try existingDest(body),
            startCursor: try cursor(body, "start_cursor", cursorColumn: spec.source.cursorColumn),
            initialCursor: try cursor(body, "initial_cursor", cursorColumn: spec.source.cursorColumn))
    }

    /// `interval_secs`: whole seconds >= 1 (the plane's tick bounds how closely it is kept).
    static func intervalSecs(_ body: JSONValue, required: Bool) throws -> Int64? {
        guard let value = body.member("interval_secs") else {
            if required { throw JobSpecError(field: "interval_secs", problem: "is required") }
            return nil
        }
        guard case .number(let text) = value, let seconds = Int64(text) else {
            throw JobSpecError(field: "interval_secs", problem: "expected an integer number of seconds, got \(value.serialized())")
        }
        if seconds < 1 { throw JobSpecError(field: "interval_secs", problem: "must be >= 1, got \(seconds)") }
        if seconds > Int64(Int32.max) { throw JobSpecError(field: "interval_secs", problem: "must be <= \(Int32.max), got \(seconds)") }
        return seconds
    }

    /// `reconcile_every_runs`: a run reconciles deletes every N runs, N >= 1 (default 1).
    static func reconcileEveryRuns(_ body: JSONValue) throws -> Int64? {
        guard let value = body.member(SyncRow.reconcileField) else { return nil }
        guard case .number(let text) = value, let runs = Int64(text) else {
            throw JobSpecError(field: SyncRow.reconcileField, problem: "expected an integer number of runs, got \(value.serialized())")
        }
        if runs < 1 || runs > Int64(Int32.max) {
            throw JobSpecError(field: SyncRow.reconcileField, problem: "must be between 1 and \(Int32.max), got \(runs)")
        }
        return runs
    }

    static func enabled(_ body: JSONValue) throws -> Bool? {
        guard let value = body.member("enabled") else { return nil }
        guard case .bool(let flag) = value else { throw JobSpecError(field: "enabled", problem: "expected a boolean, got \(value.typeName)") }
        return flag
    }

    private static func string(_ body: JSONValue, _ key: String) throws -> String? {
        guard let value = body.member(key) else { return nil }
        guard case .string(let text) = value else { throw JobSpecError(field: key, problem: "expected a string, got \(value.typeName)") }
        return text
    }

    private static func existingDest(_ body: JSONValue) throws -> ExistingDest {
        guard let text = try string(body, "existing_dest") else { return .adopt }
        guard let choice = ExistingDest(rawValue: text) else {
            throw JobSpecError(field: "existing_dest", problem: "\"\(text)\" is not one of adopt, replace")
        }
        return choice
    }

    /// A checkpoint given to a sync; `{}` means none, as for a job's `cursor`.
    private static func cursor(_ body: JSONValue, _ key: String, cursorColumn: String?) throws -> JSONValue? {
        guard let value = body.member(key) else { return nil }
        if case .object(let members) = value, members.isEmpty { return nil }
        let checkpoint = try Checkpoint.decode(value, field: key)
        guard let cursorColumn else {
            throw JobSpecError(field: key, problem: "a cursor needs source.cursor_column (a sync without one re-reads the whole table)")
        }
        if let column = checkpoint.column, column != cursorColumn {
            throw JobSpecError(field: "\(key).column", problem: "is \"\(column)\", not the sync's source.cursor_column \"\(cursorColumn)\"")
        }
        return value
    }

    /// Key columns join a `source.columns` subset, so every run can merge on them.
    private static func withKeyColumnsSelected(_ template: JSONValue) -> JSONValue {
        guard case .array(let keys)? = template.member("key_columns"), let source = template.member("source"),
              case .array(let columns)? = source.member("columns") else { return template }
        let missing = keys.filter { key in !columns.contains(key) }
        var seen: [JSONValue] = []
        for key in missing where !seen.contains(key) { seen.append(key) }
        guard !seen.isEmpty else { return template }
        return template.setting("source", source.setting("columns", .array(columns + seen)))
    }
}
