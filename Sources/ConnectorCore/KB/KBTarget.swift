import SQLiteStore

/// Prepares the table a job writes into, per mode, and finishes it (the swap for `replace`).
public struct KBTarget: Sendable {
    /// The table batches are inserted into (a staging table while a `replace` runs).
    public let table: String
    /// Set for `replace`: the staging table is swapped in for `destTable` at the end.
    public let swapInto: String?
    /// The key re-read rows merge on (empty: the table has no such key, rows are only inserted).
    public let mergeKey: [String]
    /// Columns the source gained since the table was built, added by this run.
    public let addedColumns: [String]

    /// The staging table of a `replace` job; derived from the job id so a resumed job finds it.
    public static func stagingName(jobID: String, destTable: String) -> String {
        "_timbal_replace_" + fnv1aHex(jobID + "\u{0}" + destTable)
    }

    /// Picks (and creates if needed) the target table. Runs inside the caller's transaction.
    static func prepare(kb: LocalKB, spec: JobSpec, plan: ExtractPlan, jobID: String,
                        record: LocalKB.JobRecord?) throws -> KBTarget {
        let dest = spec.destTable
        if let record {
            guard record.destTable == dest else {
                throw KBError(field: "dest_table", problem: "job \(jobID) already wrote into \"\(record.destTable)\" in KB \(kb.kbID), not \"\(dest)\"; use a new job id")
            }
            if try kb.tableExists(record.targetTable) {
                let swap = record.targetTable != dest ? dest : nil
                return try existing(kb: kb, table: record.targetTable, swapInto: swap, plan: plan, spec: spec)
            }
            let destExists = try kb.tableExists(dest)
            if record.state != "completed" || !destExists {
                throw KBError(field: "dest_table", problem: "table \"\(record.targetTable)\" of job \(jobID) is gone from KB \(kb.kbID); run the job with a new job id")
            }
            // A finished replace: its staging table became the destination.
            return try existing(kb: kb, table: dest, swapInto: nil, plan: plan, spec: spec)
        }

        let exists = try kb.tableExists(dest)
        switch spec.mode {
        case .create:
            if exists {
                throw KBError(field: "dest_table", problem: "table \"\(dest)\" already exists in KB \(kb.kbID) (mode create); use mode append, replace or upsert, or another dest_table")
            }
            try createTable(kb: kb, name: dest, plan: plan)
            return KBTarget(table: dest, swapInto: nil, mergeKey: plan.mergeKey, addedColumns: [])
        case .append, .upsert:
            if exists { return try existing(kb: kb, table: dest, swapInto: nil, plan: plan, spec: spec) }
            try createTable(kb: kb, name: dest, plan: plan)
            return KBTarget(table: dest, swapInto: nil, mergeKey: plan.mergeKey, addedColumns: [])
        case .replace:
            let staging = stagingName(jobID: jobID, destTable: dest)
            try kb.database.execute("DROP TABLE IF EXISTS \(SQLIdentifier.quote(staging))")
            try createTable(kb: kb, name: staging, plan: plan)
            return KBTarget(table: staging, swapInto: dest, mergeKey: plan.mergeKey, addedColumns: [])
        }
    }

    /// A table built by an earlier run: checked against the source, widened by new columns.
    private static func existing(kb: LocalKB, table: String, swapInto: String?, plan: ExtractPlan, spec: JobSpec) throws -> KBTarget {
        let added = try KBSchemaCheck.reconcile(kb: kb, table: table, plan: plan)
        let keyed = try hasUniqueKey(kb: kb, table: table, keys: plan.mergeKey)
        if spec.mode == .upsert && !keyed {
            throw KBError(field: "key_columns", problem: "existing table \"\(table)\" in KB \(kb.kbID) has no primary key or unique index on (\(plan.mergeKey.joined(separator: ", "))), which upsert merges on")
        }
        return KBTarget(table: table, swapInto: swapInto, mergeKey: keyed ? plan.mergeKey : [], addedColumns: added)
    }

    /// Swaps the staging table in, in the caller's transaction: a reader sees the old or the new table.
    func finish(kb: LocalKB) throws {
        guard let dest = swapInto else { return }
        try kb.database.execute("DROP TABLE IF EXISTS \(SQLIdentifier.quote(dest))")
        try kb.database.execute("ALTER TABLE \(SQLIdentifier.quote(table)) RENAME TO \(SQLIdentifier.quote(dest))")
        let forget = try kb.database.prepare("DELETE FROM _timbal_columns WHERE table_name = ?")
        try forget.bind(.text(dest), at: 1)
        try forget.run()
        let rename = try kb.database.prepare("UPDATE _timbal_columns SET table_name = ? WHERE table_name = ?")
        try rename.bind(.text(dest), at: 1)
        try rename.bind(.text(table), at: 2)
        try rename.run()
    }

    static func createTable(kb: LocalKB, name: String, plan: ExtractPlan) throws {
        var definitions = plan.projection.map { "\(SQLIdentifier.quote($0.name)) \($0.kind.sqliteType)" }
        if !plan.mergeKey.isEmpty {
            definitions.append("PRIMARY KEY (" + plan.mergeKey.map { SQLIdentifier.quote($0) }.joined(separator: ", ") + ")")
        }
        try kb.database.execute("CREATE TABLE \(SQLIdentifier.quote(name)) (\(definitions.joined(separator: ", ")))")
        try KBSchemaCheck.record(kb: kb, table: name, columns: plan.projection, replacing: true)
    }

    /// Whether a primary key or unique index covers exactly `keys`.
    static func hasUniqueKey(kb: LocalKB, table: String, keys: [String]) throws -> Bool {
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
