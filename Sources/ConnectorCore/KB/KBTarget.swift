import SQLiteStore

/// Prepares the table a job writes into, per mode, and finishes it (the swap for `replace`).
public struct KBTarget: Sendable {
    /// The table batches are inserted into (a staging table while a `replace` runs).
    public let table: String
    /// Set for `replace`: the staging table is swapped in for `destTable` at the end.
    public let swapInto: String?

    /// The staging table of a `replace` job; derived from the job id so a resumed job finds it.
    public static func stagingName(jobID: String, destTable: String) -> String {
        var hash: UInt64 = 0xcbf29ce484222325
        for byte in (jobID + "\u{0}" + destTable).utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100000001b3
        }
        return "_timbal_replace_" + String(hash, radix: 16)
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
                try checkColumns(kb: kb, table: record.targetTable, plan: plan, dest: dest)
                return KBTarget(table: record.targetTable, swapInto: swap)
            }
            let destExists = try kb.tableExists(dest)
            if record.state != "completed" || !destExists {
                throw KBError(field: "dest_table", problem: "table \"\(record.targetTable)\" of job \(jobID) is gone from KB \(kb.kbID); run the job with a new job id")
            }
            // A finished replace: its staging table became the destination.
            try checkColumns(kb: kb, table: dest, plan: plan, dest: dest)
            return KBTarget(table: dest, swapInto: nil)
        }

        let exists = try kb.tableExists(dest)
        switch spec.mode {
        case .create:
            if exists {
                throw KBError(field: "dest_table", problem: "table \"\(dest)\" already exists in KB \(kb.kbID) (mode create); use mode append, replace or upsert, or another dest_table")
            }
            try createTable(kb: kb, name: dest, plan: plan, keyColumns: spec.keyColumns, recordAs: dest)
            return KBTarget(table: dest, swapInto: nil)
        case .append, .upsert:
            if exists {
                try checkColumns(kb: kb, table: dest, plan: plan, dest: dest)
                if spec.mode == .upsert { try checkUpsertKey(kb: kb, table: dest, keys: spec.keyColumns) }
            } else {
                try createTable(kb: kb, name: dest, plan: plan, keyColumns: spec.keyColumns, recordAs: dest)
            }
            return KBTarget(table: dest, swapInto: nil)
        case .replace:
            let staging = stagingName(jobID: jobID, destTable: dest)
            try kb.database.execute("DROP TABLE IF EXISTS \(SQLIdentifier.quote(staging))")
            try createTable(kb: kb, name: staging, plan: plan, keyColumns: spec.keyColumns, recordAs: nil)
            return KBTarget(table: staging, swapInto: dest)
        }
    }

    /// Swaps the staging table in, in the caller's transaction: a reader sees the old or the new table.
    func finish(kb: LocalKB, plan: ExtractPlan) throws {
        guard let dest = swapInto else { return }
        try kb.database.execute("DROP TABLE IF EXISTS \(SQLIdentifier.quote(dest))")
        try kb.database.execute("ALTER TABLE \(SQLIdentifier.quote(table)) RENAME TO \(SQLIdentifier.quote(dest))")
        try KBTarget.recordColumns(kb: kb, table: dest, plan: plan)
    }

    static func createTable(kb: LocalKB, name: String, plan: ExtractPlan, keyColumns: [String], recordAs: String?) throws {
        var definitions = plan.projection.map { "\(SQLIdentifier.quote($0.name)) \($0.kind.sqliteType)" }
        if !keyColumns.isEmpty {
            definitions.append("PRIMARY KEY (" + keyColumns.map { SQLIdentifier.quote($0) }.joined(separator: ", ") + ")")
        }
        try kb.database.execute("CREATE TABLE \(SQLIdentifier.quote(name)) (\(definitions.joined(separator: ", ")))")
        if let recordAs { try recordColumns(kb: kb, table: recordAs, plan: plan) }
    }

    /// Remembers each column's source type beside its KB type, for readers of the KB.
    static func recordColumns(kb: LocalKB, table: String, plan: ExtractPlan) throws {
        let delete = try kb.database.prepare("DELETE FROM _timbal_columns WHERE table_name = ?")
        try delete.bind(.text(table), at: 1)
        try delete.run()
        let insert = try kb.database.prepare(
            "INSERT INTO _timbal_columns (table_name, position, column_name, source_type, kb_type) VALUES (?, ?, ?, ?, ?)")
        for (position, column) in plan.projection.enumerated() {
            try insert.bind(.text(table), at: 1)
            try insert.bind(.integer(Int64(position + 1)), at: 2)
            try insert.bind(.text(column.name), at: 3)
            try insert.bind(.text(column.declaredType), at: 4)
            try insert.bind(.text(column.kind.sqliteType), at: 5)
            try insert.run()
        }
    }

    static func checkColumns(kb: LocalKB, table: String, plan: ExtractPlan, dest: String) throws {
        let existing = Set(try kb.columnNames(of: table))
        for column in plan.projection where !existing.contains(column.name) {
            throw KBError(field: "dest_table", problem: "existing table \"\(dest)\" in KB \(kb.kbID) has no column \"\(column.name)\"; use mode replace to rebuild it")
        }
    }

    static func checkUpsertKey(kb: LocalKB, table: String, keys: [String]) throws {
        let primaryKey = try kb.database.rows("SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk", [.text(table)])
            .compactMap { $0[0].text }
        if Set(primaryKey) == Set(keys) { return }
        let indexes = try kb.database.rows("SELECT name FROM pragma_index_list(?) WHERE \"unique\" = 1", [.text(table)])
        for index in indexes {
            guard let name = index[0].text else { continue }
            let columns = try kb.database.rows("SELECT name FROM pragma_index_info(?) ORDER BY seqno", [.text(name)]).compactMap { $0[0].text }
            if Set(columns) == Set(keys) { return }
        }
        throw KBError(field: "key_columns", problem: "existing table \"\(table)\" in KB \(kb.kbID) has no primary key or unique index on (\(keys.joined(separator: ", "))), which upsert merges on")
    }
}
