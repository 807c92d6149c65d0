import Foundation
import TimbalModel
import TimbalSupport

/// The JSON the sync routes answer with. The raw cursor is never shown, only whether there is one.
enum SyncView {
    static func view(_ sync: SyncRow, _ progress: SyncProgress, now: Date = Date()) -> JSONValue {
        let source = sync.source
        var members: [(String, JSONValue)] = [
            ("id", .string(sync.id)), ("connector_id", .string(sync.connectorID)),
            ("source_kind", .optional(source?.kind)), ("connection_ref", .optional(source?.connectionRef)),
            ("source_schema", .optional(source?.schema)), ("source_table", .optional(source?.table)),
        ]
        if let column = source?.cursorColumn { members.append(("cursor_column", .string(column))) }
        let effective = SyncSchedule.effectiveInterval(intervalSecs: sync.intervalSecs, consecutiveFailures: progress.consecutiveFailures)
        members += [
            ("key_columns", .array(sync.keyColumns.map(JSONValue.string))), ("kb_uid", .string(String(sync.kbID))),
            ("dest_table", .string(sync.destTable)), ("placement", .string(sync.placement)),
            ("interval_secs", .int(sync.intervalSecs)), ("effective_interval_secs", .int(effective)),
            ("deletes", .string(sync.deletes.rawValue)), ("reconcile_every_runs", .int(sync.reconcileEveryRuns)),
            ("enabled", .bool(sync.enabled)), ("has_cursor", .bool(sync.nextCursor(progress) != nil)),
            ("consecutive_failures", .int(Int64(progress.consecutiveFailures))),
            ("created_at", .string(sync.createdAt)), ("updated_at", .string(sync.updatedAt)),
        ]
        if let name = sync.name { members.append(("name", .string(name))) }
        if let last = progress.lastRun {
            members.append(("last_run_at", .string(last.createdAt)))
            members.append(("last_state", .string(last.state)))
        }
        if let success = progress.lastCompleted {
            let at = success.finishedAt ?? success.createdAt
            members.append(("last_success_at", .string(at)))
            if let date = ISO8601DateFormatter.withFraction.date(from: at) {
                members.append(("seconds_since_success", .int(Int64(max(0, now.timeIntervalSince(date))))))
            }
        }
        if sync.enabled, !progress.runOpen {
            let lastStart = progress.lastRun.flatMap { ISO8601DateFormatter.withFraction.date(from: $0.createdAt) }
            let due = SyncSchedule.nextRunAt(lastRunStart: lastStart, intervalSecs: sync.intervalSecs,
                                             consecutiveFailures: progress.consecutiveFailures) ?? now
            members.append(("next_run_at", .string(PlaneStore.timestamp(due))))
        }
        if let reason = sync.disabledReason { members.append(("disabled_reason", .string(reason))) }
        return .object(members)
    }

    static func run(_ run: SyncRun) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("job_id", .string(run.jobID)), ("state", .string(run.state)), ("mode", .string(run.mode)),
            ("rows_emitted", .int(run.rowsEmitted)), ("created_at", .string(run.createdAt)),
        ]
        if let v = run.startedAt { members.append(("started_at", .string(v))) }
        if let v = run.finishedAt { members.append(("finished_at", .string(v))) }
        if let v = run.durationMs { members.append(("duration_ms", .int(v))) }
        if run.rowsPerSec > 0 { members.append(("rows_per_sec", .number(twoDecimals(run.rowsPerSec)))) }
        if let v = run.message { members.append(("message", .string(v))) }
        return .object(members)
    }

    static func stats(_ stats: PlaneStore.SyncStats) -> JSONValue {
        .object([("runs_total", .int(stats.runsTotal)), ("runs_completed", .int(stats.runsCompleted)),
                 ("runs_failed", .int(stats.runsFailed)), ("rows_total", .int(stats.rowsTotal)),
                 ("rows_deleted", .int(stats.rowsDeleted))])
    }
}
