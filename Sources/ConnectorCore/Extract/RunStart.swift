import Logging
import PostgresClient

/// Where a run starts, decided once before it reads, from what the destination holds of this
/// job's earlier runs and the job's own cursor.
struct RunStart {
    /// The checkpoint the run starts from (nil: the beginning of the table).
    var resumeFrom: Checkpoint?
    /// The run follows a completed run (or starts from the dispatch's cursor): it re-reads the
    /// checkpoint's own cursor value and what lookback and `reread_from` reach back to. False
    /// when it continues an unfinished run exactly where that one stopped.
    var incremental: Bool
    /// A completed run of this job is read again whole: a rerun of mode `replace` or of a
    /// snapshot (incremental, it would leave deleted and changed rows stale).
    var refresh: Bool
    /// Where `resumeFrom` came from, to name it in an error: `checkpoint` or `cursor`.
    var field = "checkpoint"

    static func decide(spec: JobSpec, plan: ExtractPlan, sink: BatchSink) throws -> RunStart {
        if sink.lastRunCompleted && (spec.mode == .replace || plan.cursor == nil) {
            if let explicit = spec.cursor {
                try plan.validate(explicit, field: "cursor")
                return RunStart(resumeFrom: explicit, incremental: true, refresh: true, field: "cursor")
            }
            return RunStart(resumeFrom: nil, incremental: false, refresh: true)
        }
        // A checkpoint this job id committed wins over the job's own cursor, which is only where
        // the job starts: re-applying it on a resume would read rows a second time.
        if let stored = try sink.committedCheckpoint() {
            try plan.validate(stored, field: "checkpoint")
            return RunStart(resumeFrom: stored, incremental: !sink.checkpointIsFromUnfinishedRun, refresh: false)
        }
        if let explicit = spec.cursor {
            try plan.validate(explicit, field: "cursor")
            return RunStart(resumeFrom: explicit, incremental: true, refresh: false, field: "cursor")
        }
        return RunStart(resumeFrom: nil, incremental: false, refresh: false)
    }

    /// The first position to read and the `reread_from` bound carried into this run's checkpoints.
    /// An incremental run reads the checkpoint's cursor value again (`>=`), and earlier values when
    /// lookback or `reread_from` reach back, merging what it re-reads by key; without a key to
    /// merge on it reads strictly after the checkpoint, as re-read rows would land twice.
    func position(plan: ExtractPlan, mergeKey: [String], settings: ConnectionSettings, link: SourceLink,
                  logger: Logger) throws -> (start: KeysetPosition, carriedRereadFrom: String?) {
        guard let checkpoint = resumeFrom else { return (.start(for: plan), nil) }
        // A completed load by key whose catch-up landed nothing, taken when no row had a cursor
        // value: every non-NULL value is new.
        if checkpoint.keyPass != nil && checkpoint.value == nil { return (KeysetPosition(pass: .values, after: nil), nil) }
        let exact = KeysetPosition.resuming(checkpoint, plan: plan)
        guard incremental else { return (exact, checkpoint.rereadFrom) }
        guard plan.cursor != nil, checkpoint.value != nil, !checkpoint.nullCursorPass else { return (exact, nil) }
        if mergeKey.isEmpty {
            logger.warning("the KB table has no key, so this run reads strictly after the checkpoint: rows committed later with the checkpoint's own cursor value or an earlier one are not read (a key lets them be re-read and merged)", metadata: [
                "checkpoint": "\(checkpoint.summary)"])
            return (exact, nil)
        }
        let from = try link.retrying("incremental start") {
            try IncrementalStart.from(checkpoint, plan: plan, settings: settings, on: $0)
        } ?? checkpoint.value!
        if from != checkpoint.value {
            logger.info("incremental run reaches back to re-read late commits (merged by key)", metadata: [
                "checkpoint": "\(checkpoint.value ?? "")", "from": "\(from)"])
        }
        return (KeysetPosition(pass: .values, after: [from], inclusive: true), nil)
    }

    /// A value the cursor's type cannot hold fails here, naming the field, before the KB is
    /// touched, not later in a query.
    func checkValues(plan: ExtractPlan, link: SourceLink) throws {
        guard let checkpoint = resumeFrom else { return }
        var checks: [(field: String, value: String, column: SourceColumn)] = []
        if let cursor = plan.cursor, let value = checkpoint.value { checks.append(("\(field).value", value, cursor)) }
        if let reread = checkpoint.rereadFrom, let cursor = plan.cursor { checks.append(("\(field).reread_from", reread, cursor)) }
        for (index, tie) in checkpoint.tiebreaker.enumerated() where index < plan.tiebreaker.count {
            checks.append(("\(field).tiebreaker[\(index)].value", tie.value, plan.tiebreaker[index]))
        }
        for (index, key) in (checkpoint.keyPass ?? []).enumerated() where index < plan.sourceKey.count {
            checks.append(("\(field).key_pass[\(index)].value", key.value, plan.sourceKey[index]))
        }
        for check in checks {
            try link.retrying("checkpoint values") { connection in
                do {
                    _ = try connection.query("SELECT $1", [check.value], types: [check.column.typeOID])
                } catch let error as PostgresError where error.sqlState?.hasPrefix("22") == true {
                    throw JobSpecError(field: check.field, problem: "\"\(check.value)\" is not a valid \(check.column.declaredType) for column \"\(check.column.name)\": \(error.message)")
                }
            }
        }
    }
}
