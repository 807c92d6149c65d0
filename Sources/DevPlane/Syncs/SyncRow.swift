import Foundation
import TimbalModel

/// A sync as the plane keeps it: the job every run repeats, and how often.
struct SyncRow: Sendable {
    var id: String
    var orgID: String
    var connectorID: String
    var name: String?
    var kbID: Int64
    var destTable: String
    var placement: String
    /// The job body each run sends, without `mode` and `cursor` (chosen per run).
    var template: JSONValue
    var keyColumns: [String]
    var intervalSecs: Int64
    var enabled: Bool
    var disabledReason: String?
    /// `existing_dest: replace`: runs rebuild the table until one completes.
    var rebuildFirst: Bool
    /// The checkpoint (JSON text) the first run starts from: `start_cursor`, or an adopted table's.
    var initialCursor: String?
    /// Failed runs created before this time do not count (set when a disabled sync is resumed).
    var failuresSince: String?
    var createdAt: String
    var updatedAt: String

    var source: SourceSpec? { (try? JobSpec.decode(template))?.source }
    var cursorColumn: String? { source?.cursorColumn }
    /// No cursor column: every run re-reads the whole table and rebuilds `dest_table`.
    var isFullRefresh: Bool { cursorColumn == nil }

    /// Kept in the template beside the job fields; never sent to the connector.
    static let reconcileField = "reconcile_every_runs"
    /// `deletes` of the sync's runs (this project's extension).
    var deletes: DeletesChoice { (try? JobSpec.decode(template))?.deletes ?? .keep }
    /// A run reconciles deletes every this many runs.
    var reconcileEveryRuns: Int64 {
        if case .number(let text)? = template.member(Self.reconcileField), let runs = Int64(text), runs >= 1 { return runs }
        return 1
    }
}

/// One run of a sync (a job carrying its `sync_id`), as the sync's views and rules need it.
struct SyncRun: Sendable {
    var jobID: String
    var state: String
    var mode: String
    var rowsEmitted: Int64
    var rowsPerSec: Double
    var message: String?
    var createdAt: String
    var startedAt: String?
    var finishedAt: String?
    var durationMs: Int64?

    var isOpen: Bool { !["completed", "failed", "stopped"].contains(state) }
}

/// What a sync's runs so far decide about the next one.
struct SyncProgress: Sendable {
    var lastRun: SyncRun?
    var lastCompleted: SyncRun?
    var consecutiveFailures: Int
    /// The last checkpoint a run committed into `dest_table` (JSON text).
    var committedCursor: String?
    /// Runs of the sync so far (every state).
    var runsSoFar: Int64 = 0

    var runOpen: Bool { lastRun?.isOpen ?? false }
}

extension SyncRow {
    /// The cursor the next run starts from (nil: from the beginning, or a full refresh).
    func nextCursor(_ progress: SyncProgress) -> String? {
        isFullRefresh ? nil : progress.committedCursor ?? initialCursor
    }

    /// Full refresh and a first rebuild replace the table; later runs merge into it by key.
    func nextMode(_ progress: SyncProgress) -> JobSpec.Mode {
        if isFullRefresh || (rebuildFirst && progress.lastCompleted == nil) { return .replace }
        return keyColumns.isEmpty ? .append : .upsert
    }

    func nextJobBody(_ progress: SyncProgress) throws -> JSONValue {
        var body = template.removing(Self.reconcileField).setting("mode", .string(nextMode(progress).rawValue))
        // Runs between reconciliations only catch up: the deletes wait for the Nth run.
        if deletes != .keep, (progress.runsSoFar + 1) % reconcileEveryRuns != 0 {
            body = body.setting("deletes", .string(DeletesChoice.keep.rawValue))
        }
        if let cursor = nextCursor(progress) { body = body.setting("cursor", try JSONParser.parse(cursor)) }
        return body
    }
}

extension JSONValue {
    /// The object with `key` set (replaced in place, or appended).
    func setting(_ key: String, _ value: JSONValue) -> JSONValue {
        guard case .object(var members) = self else { return self }
        if let index = members.firstIndex(where: { $0.0 == key }) {
            members[index].1 = value
        } else {
            members.append((key, value))
        }
        return .object(members)
    }

    /// The object without `key`.
    func removing(_ key: String) -> JSONValue {
        guard case .object(let members) = self else { return self }
        return .object(members.filter { $0.0 != key })
    }

    /// The member, or nil when absent or JSON null.
    func member(_ key: String) -> JSONValue? {
        guard let value = self[key], value != .null else { return nil }
        return value
    }
}
