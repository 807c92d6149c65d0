import PostgresClient

/// Lands batches in a local SQLite KB (`placement: local`), checkpoint and rows in one transaction.
public final class LocalKBSink: BatchSink {
    private let kb: LocalKB
    private let spec: JobSpec
    private let jobID: String
    private var record: LocalKB.JobRecord?
    private var target: KBTarget?
    private var writer: KBBatchWriter?
    private var plan: ExtractPlan?

    public init(stateDir: String, spec: JobSpec, jobID: String) throws {
        kb = try LocalKB(stateDir: stateDir, kbID: spec.kbID)
        self.spec = spec
        self.jobID = jobID
        record = try kb.jobRecord(jobID)
    }

    public func committedCheckpoint() throws -> Checkpoint? { record?.checkpoint }

    public func open(plan: ExtractPlan) throws {
        self.plan = plan
        let target = try kb.database.transaction { () throws -> KBTarget in
            let target = try KBTarget.prepare(kb: kb, spec: spec, plan: plan, jobID: jobID, record: record)
            try register(target: target, fresh: record == nil)
            return target
        }
        self.target = target
        writer = try KBBatchWriter(kb: kb, table: target.table, plan: plan, mode: spec.mode,
                                   keyColumns: spec.keyColumns, jobID: jobID)
    }

    public func land(_ batch: PostgresResult, checkpoint: Checkpoint?) throws {
        try writer!.land(batch, checkpoint: checkpoint)
    }

    public func close(state: ExtractResult.State) throws {
        guard let target, let plan else { return }
        try kb.database.transaction {
            if state == .completed { try target.finish(kb: kb, plan: plan) }
            let table = state == .completed ? (target.swapInto ?? target.table) : target.table
            let update = try kb.database.prepare(
                "UPDATE _timbal_jobs SET state = ?, target_table = ?, updated_at = ?, finished_at = ? WHERE job_id = ?")
            let now = utcTimestamp()
            for (index, value) in [state.rawValue, table, now, now, jobID].enumerated() {
                try update.bind(.text(value), at: index + 1)
            }
            try update.run()
        }
    }

    public func totalRowsLanded() throws -> Int64 { try kb.jobRecord(jobID)?.rowsLanded ?? 0 }

    private func register(target: KBTarget, fresh: Bool) throws {
        let now = utcTimestamp()
        if fresh {
            let insert = try kb.database.prepare(
                """
                INSERT INTO _timbal_jobs (job_id, dest_table, target_table, mode, state, started_at, updated_at)
                VALUES (?, ?, ?, ?, 'running', ?, ?)
                """)
            for (index, value) in [jobID, spec.destTable, target.table, spec.mode.rawValue, now, now].enumerated() {
                try insert.bind(.text(value), at: index + 1)
            }
            try insert.run()
        } else {
            let update = try kb.database.prepare(
                "UPDATE _timbal_jobs SET state = 'running', target_table = ?, updated_at = ?, finished_at = NULL WHERE job_id = ?")
            try update.bind(.text(target.table), at: 1)
            try update.bind(.text(now), at: 2)
            try update.bind(.text(jobID), at: 3)
            try update.run()
        }
    }
}
