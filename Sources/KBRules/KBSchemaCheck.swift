import SQLiteStore
import TimbalSupport

/// Keeps a KB table in step with its source between runs: `_timbal_columns` records each column's
/// source type when the table is built or widened; each later run compares it with the source.
/// A new source column is added (NULL for earlier rows); a dropped or retyped one fails the run
/// naming the column, since rows of two shapes must not mix in one KB column. So does one whose
/// source column number changed (dropped and added again, or another column renamed to its name):
/// its rows read before hold values the source no longer has, and an incremental run would not
/// read them again.
enum KBSchemaCheck {
    /// Returns the columns added to `table`.
    static func reconcile(kb: KBFile, table: String, plan: KBWritePlan) throws -> [String] {
        let recorded = try kb.database.rows(
            "SELECT column_name, source_type, source_table, source_number FROM _timbal_columns WHERE table_name = ? ORDER BY position",
            [.text(table)])
        let written = Dictionary(plan.columns.map { ($0.name, $0.sourceType) }, uniquingKeysWith: { first, _ in first })
        for row in recorded {
            guard let name = row[0].text, let type = row[1].text else { continue }
            try checkNumber(kb: kb, table: table, column: name, recordedTable: row[2].text, recorded: row[3], plan: plan)
            // The whole source table when known; else at least the columns this run writes.
            let now = plan.sourceCatalog.map { $0[name] } ?? written[name]
            if plan.sourceCatalog != nil && now == nil {
                throw KBError(field: "source.columns",
                              problem: "column \"\(name)\" of KB table \"\(table)\" is gone from \(plan.sourceName) (dropped or renamed at the source); run with mode replace to rebuild the table without it")
            }
            if let now, now != type {
                throw KBError(field: "source.columns",
                              problem: "column \"\(name)\" of \(plan.sourceName) changed type from \(type) to \(now) since KB table \"\(table)\" was built; run with mode replace to rebuild it")
            }
        }
        let existing = Set(try kb.columnNames(of: table))
        let missing = plan.columns.filter { !existing.contains($0.name) }
        for column in missing {
            try KBNames.checkColumn(column.name)
            let type = try KBType.checked(column.kbType, column: column.name)
            try kb.database.execute(
                "ALTER TABLE \(SQLIdentifier.quote(table)) ADD COLUMN \(SQLIdentifier.quote(column.name)) \(type.rawValue)", [])
        }
        if !missing.isEmpty || recorded.isEmpty {
            try record(kb: kb, table: table, columns: recorded.isEmpty ? plan.columns : missing, replacing: recorded.isEmpty, plan: plan)
        }
        return missing.map(\.name)
    }

    /// Fails when the source column `column` has another number than the one recorded for the
    /// same source table; records table and number where none were (a KB file made before they
    /// were kept, or by a plane that did not send them). Numbers of another source table (jobs
    /// of two tables appending into one KB table) are not compared.
    private static func checkNumber(kb: KBFile, table: String, column: String, recordedTable: String?, recorded: SQLiteValue,
                                    plan: KBWritePlan) throws {
        guard let now = plan.sourceNumbers?[column] else { return }
        guard let recordedTable, case .integer(let then) = recorded else {
            try kb.database.execute(
                "UPDATE _timbal_columns SET source_table = ?, source_number = ? WHERE table_name = ? AND column_name = ?",
                [.text(plan.sourceName), .integer(Int64(now)), .text(table), .text(column)])
            return
        }
        guard recordedTable == plan.sourceName else { return }
        guard then != Int64(now) else { return }
        throw KBError(field: "source.columns",
                      problem: "column \"\(column)\" of \(plan.sourceName) was dropped and added again, or another column was renamed to its name, since KB table \"\(table)\" was built (its rows hold the old column's values); run with mode replace to rebuild it")
    }

    /// Records source and KB types of `columns` (after those recorded, unless `replacing`).
    static func record(kb: KBFile, table: String, columns: [KBColumn], replacing: Bool, plan: KBWritePlan) throws {
        if replacing {
            try kb.database.execute("DELETE FROM _timbal_columns WHERE table_name = ?", [.text(table)])
        }
        var position: Int64 = 0
        if case .integer(let last)? = try kb.database.rows(
            "SELECT max(position) FROM _timbal_columns WHERE table_name = ?", [.text(table)]).first?.first {
            position = last
        }
        let insert = try kb.database.prepare(
            """
            INSERT INTO _timbal_columns (table_name, position, column_name, source_type, kb_type, source_table, source_number)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """)
        for column in columns {
            position += 1
            let number = plan.sourceNumbers?[column.name].map { SQLiteValue.integer(Int64($0)) }
            try insert.run([.text(table), .integer(position), .text(column.name), .text(column.sourceType), .text(column.kbType),
                            number == nil ? .null : .text(plan.sourceName), number ?? .null])
        }
    }
}
