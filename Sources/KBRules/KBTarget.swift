import SQLiteStore
import TimbalSupport

/// The KB's mode rules, one copy for both placements: which table a run writes into, created or
/// checked per mode, and how it is finished (the swap for `replace`).
///
/// - `create` builds `dest_table` and fails if it exists, unless the same job resumes or reruns;
/// - `append` builds it if needed, adds new keys and merges known ones;
/// - `upsert` is `append` that insists on a key the table can merge on;
/// - `replace` builds a staging table and swaps it in at the end, in one transaction.
/// Every mode merges a re-read row by the plan's merge key when the table has that key.
public struct KBTarget: Sendable {
    /// The table batches are inserted into (a staging table while a `replace` runs).
    public let table: String
    /// Set for `replace`: the staging table is swapped in for the destination at the end.
    public let swapInto: String?
    /// The key re-read rows merge on (empty: the table has no such key, rows are only inserted).
    public let mergeKey: [String]
    /// Columns the source gained since the table was built, added by this run.
    public let addedColumns: [String]
    /// A keyless snapshot in mode `append`: the staging table's rows are added to the destination at the end.
    public var appendsOnFinish = false

    init(table: String, swapInto: String?, mergeKey: [String], addedColumns: [String], appendsOnFinish: Bool = false) {
        self.table = table
        self.swapInto = swapInto
        self.mergeKey = mergeKey
        self.addedColumns = addedColumns
        self.appendsOnFinish = appendsOnFinish
    }

    /// The staging table of a `replace` job; derived from the job id so a resumed job finds it.
    public static func stagingName(jobID: String, destTable: String) -> String {
        "_timbal_replace_" + fnv1aHex(jobID + "\u{0}" + destTable)
    }

    /// Picks (and creates if needed) the target table and registers the run in `_timbal_jobs`.
    /// Runs in its own transaction.
    public static func prepare(kb: KBFile, jobID: String, dest: String, mode: String, plan: KBWritePlan) throws -> KBTarget {
        try KBNames.checkDestination(dest)
        try plan.columns.forEach { try KBNames.checkColumn($0.name) }
        return try kb.database.transaction {
            let record = try kb.jobRecord(jobID)
            let refreshing = plan.refreshesCompletedRun && record?.state == "completed"
            if refreshing, let record, record.destTable != dest {
                throw KBError(field: "dest_table", problem: "job \(jobID) already wrote into \"\(record.destTable)\" in \(kb.label), not \"\(dest)\"; use a new job id")
            }
            // A refreshed replace builds a new staging table, as a first run does.
            let earlier = refreshing && mode == "replace" ? nil : record
            let target = plan.startsOver
                ? try startOver(kb: kb, jobID: jobID, dest: dest, mode: mode, plan: plan, record: record)
                : try choose(kb: kb, jobID: jobID, dest: dest, mode: mode, plan: plan, record: earlier)
            try kb.register(jobID: jobID, dest: dest, target: target.table, mode: mode, fresh: record == nil,
                            startsOver: plan.startsOver || refreshing)
            return target
        }
    }

    private static func choose(kb: KBFile, jobID: String, dest: String, mode: String, plan: KBWritePlan,
                               record: KBFile.JobRecord?) throws -> KBTarget {
        if let record {
            if record.state == KBFile.abandoned {
                throw KBError(field: "job_id", problem: "job \(jobID) landed no row in \"\(dest)\" and another create job has since built that table; run with a new job id")
            }
            guard record.destTable == dest else {
                throw KBError(field: "dest_table", problem: "job \(jobID) already wrote into \"\(record.destTable)\" in \(kb.label), not \"\(dest)\"; use a new job id")
            }
            if try kb.tableExists(record.targetTable) {
                let swap = record.targetTable != dest ? dest : nil
                return try existing(kb: kb, table: record.targetTable, swapInto: swap, mode: mode, plan: plan)
            }
            let destExists = try kb.tableExists(dest)
            if record.state != "completed" || !destExists {
                throw KBError(field: "dest_table", problem: "table \"\(record.targetTable)\" of job \(jobID) is gone from \(kb.label); run the job with a new job id")
            }
            // A finished replace: its staging table became the destination.
            return try existing(kb: kb, table: dest, swapInto: nil, mode: mode, plan: plan)
        }

        let exists = try kb.tableExists(dest)
        switch mode {
        case "create":
            if exists {
                guard try kb.isEmptyTableOfUnfinishedJobs(dest) else {
                    throw KBError(field: "dest_table", problem: "table \"\(dest)\" already exists in \(kb.label) (mode create); use mode append, replace or upsert, or another dest_table")
                }
                // A create that failed (or was killed) before landing a row left it: taken over.
                try kb.abandonTable(dest, takenOverBy: jobID)
            }
            try createTable(kb: kb, name: dest, plan: plan)
            return KBTarget(table: dest, swapInto: nil, mergeKey: plan.mergeKey, addedColumns: [])
        case "append", "upsert":
            if exists { return try existing(kb: kb, table: dest, swapInto: nil, mode: mode, plan: plan) }
            if mode == "upsert" && plan.mergeKey.isEmpty {
                throw KBError(field: "key_columns", problem: "mode upsert needs at least one key column")
            }
            try createTable(kb: kb, name: dest, plan: plan)
            return KBTarget(table: dest, swapInto: nil, mergeKey: plan.mergeKey, addedColumns: [])
        case "replace":
            let staging = stagingName(jobID: jobID, destTable: dest)
            try kb.database.execute("DROP TABLE IF EXISTS \(SQLIdentifier.quote(staging))", [])
            try createTable(kb: kb, name: staging, plan: plan)
            return KBTarget(table: staging, swapInto: dest, mergeKey: plan.mergeKey, addedColumns: [])
        default:
            throw KBError(field: "mode", problem: "\"\(mode)\" is not one of create, append, replace, upsert")
        }
    }

    /// A keyless snapshot's run going on after the writer lost track of it (the plane restarted):
    /// its staging table as it stands.
    public static func continuing(kb: KBFile, jobID: String, dest: String, mode: String) throws -> KBTarget {
        let staging = stagingName(jobID: jobID, destTable: dest)
        guard try kb.tableExists(staging) else {
            throw KBError(field: "dest_table", problem: "the staging table of job \(jobID) is gone from \(kb.label); run the job again")
        }
        let appends = try mode == "append" && kb.tableExists(dest)
        return KBTarget(table: staging, swapInto: dest, mergeKey: [], addedColumns: [], appendsOnFinish: appends)
    }

    /// A keyless snapshot: a fresh staging table every run (an earlier run's rows are dropped).
    private static func startOver(kb: KBFile, jobID: String, dest: String, mode: String, plan: KBWritePlan,
                                  record: KBFile.JobRecord?) throws -> KBTarget {
        let exists = try kb.tableExists(dest)
        switch mode {
        case "create":
            if exists && record == nil {
                throw KBError(field: "dest_table", problem: "table \"\(dest)\" already exists in \(kb.label) (mode create); use mode append, replace or upsert, or another dest_table")
            }
        case "append":
            if exists { _ = try KBSchemaCheck.reconcile(kb: kb, table: dest, plan: plan) }
        case "replace":
            break
        case "upsert":
            throw KBError(field: "key_columns", problem: "mode upsert needs at least one key column")
        default:
            throw KBError(field: "mode", problem: "\"\(mode)\" is not one of create, append, replace, upsert")
        }
        let staging = stagingName(jobID: jobID, destTable: dest)
        try kb.database.execute("DROP TABLE IF EXISTS \(SQLIdentifier.quote(staging))", [])
        try createTable(kb: kb, name: staging, plan: plan)
        return KBTarget(table: staging, swapInto: dest, mergeKey: [], addedColumns: [], appendsOnFinish: mode == "append" && exists)
    }

    /// A table built by an earlier run: checked against the source, widened by new columns.
    private static func existing(kb: KBFile, table: String, swapInto: String?, mode: String, plan: KBWritePlan) throws -> KBTarget {
        let added = try KBSchemaCheck.reconcile(kb: kb, table: table, plan: plan)
        let keyed = try hasUniqueKey(kb: kb, table: table, keys: plan.mergeKey)
        if mode == "upsert" && !keyed {
            throw KBError(field: "key_columns", problem: "existing table \"\(table)\" in \(kb.label) has no primary key or unique index on (\(plan.mergeKey.joined(separator: ", "))), which upsert merges on")
        }
        return KBTarget(table: table, swapInto: swapInto, mergeKey: keyed ? plan.mergeKey : [], addedColumns: added)
    }

    /// Ends a run: `completed` swaps a staging table in (a reader sees the old or the new table)
    /// and records the job's state, in one transaction.
    public func finish(kb: KBFile, jobID: String, state: String) throws {
        try kb.database.transaction {
            if state == "completed", let dest = swapInto, appendsOnFinish, try kb.tableExists(table) {
                let columns = try kb.database.rows("SELECT name FROM pragma_table_info(?)", [.text(table)])
                    .compactMap { $0[0].text }.map { SQLIdentifier.quote($0) }.joined(separator: ", ")
                try kb.database.execute("INSERT INTO \(SQLIdentifier.quote(dest)) (\(columns)) SELECT \(columns) FROM \(SQLIdentifier.quote(table))", [])
                try kb.database.execute("DROP TABLE \(SQLIdentifier.quote(table))", [])
                try kb.database.execute("DELETE FROM _timbal_columns WHERE table_name = ?", [.text(table)])
            } else if state == "completed", let dest = swapInto, try kb.tableExists(table) {
                try kb.database.execute("DROP TABLE IF EXISTS \(SQLIdentifier.quote(dest))", [])
                try kb.database.execute("ALTER TABLE \(SQLIdentifier.quote(table)) RENAME TO \(SQLIdentifier.quote(dest))", [])
                try kb.database.execute("DELETE FROM _timbal_columns WHERE table_name = ?", [.text(dest)])
                try kb.database.execute("UPDATE _timbal_columns SET table_name = ? WHERE table_name = ?", [.text(dest), .text(table)])
            }
            let holder = state == "completed" ? (swapInto ?? table) : table
            try kb.finishJob(jobID, state: state, table: holder)
        }
    }

    /// Builds a table from the plan: names quoted by `SQLIdentifier.quote`, types from the closed
    /// `KBType` set, one prepared statement (never a script: nothing in it can end the statement).
    static func createTable(kb: KBFile, name: String, plan: KBWritePlan) throws {
        var definitions = try plan.columns.map {
            try KBNames.checkColumn($0.name)
            return "\(SQLIdentifier.quote($0.name)) \(try KBType.checked($0.kbType, column: $0.name).rawValue)"
        }
        if !plan.mergeKey.isEmpty {
            definitions.append("PRIMARY KEY (" + plan.mergeKey.map { SQLIdentifier.quote($0) }.joined(separator: ", ") + ")")
        }
        try kb.database.execute("CREATE TABLE \(SQLIdentifier.quote(name)) (\(definitions.joined(separator: ", ")))", [])
        try KBSchemaCheck.record(kb: kb, table: name, columns: plan.columns, replacing: true, plan: plan)
    }

    /// Whether a primary key or unique index covers exactly `keys`.
    static func hasUniqueKey(kb: KBFile, table: String, keys: [String]) throws -> Bool {
        guard !keys.isEmpty else { return false }
        let primaryKey = try kb.database.rows("SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk", [.text(table)])
            .compactMap { $0[0].text }
        if Set(primaryKey) == Set(keys) { return true }
        let indexes = try kb.database.rows("SELECT name FROM pragma_index_list(?) WHERE \"unique\" = 1", [.text(table)])
        for index in indexes {
            guard let name = index[0].text else { continue }
            let columns = try kb.database.rows("SELECT name FROM pragma_index_info(?) ORDER BY seqno", [.text(name)]).compactMap { $0[0].text }
            if Set(columns) == Set(keys) { return true }
        }
        return false
    }
}
