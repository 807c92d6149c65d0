import SQLiteStore
import TimbalSupport

extension KBDeletes {
    /// Refuses `soft` when a column the run writes would collide with the mark column (SQLite
    /// column names ignore ASCII case). Called before any row moves.
    public static func checkNoClash(columns: [String], sourceName: String) throws {
        if let clash = columns.first(where: { isMarkColumn($0) }) {
            throw KBError(field: "deletes", problem: "\"soft\" marks rows in column \"\(markColumn)\", but \(sourceName.forMessage) has a column \"\(clash.forMessage)\" that would land in it; leave it out of source.columns, or use \"hard\"")
        }
    }

    /// Makes `table` ready for `soft`: adds the mark column (NULL for every row) unless it is there.
    /// Refuses a mark column that holds source data (a column of that name recorded from the source).
    public static func prepareSoft(kb: KBFile, table: String, sourceName: String) throws {
        let existing = try kb.columnNames(of: table)
        let fromSource = try kb.database.rows("SELECT column_name FROM _timbal_columns WHERE table_name = ?", [.text(table)])
            .compactMap { $0[0].text }
        if let clash = fromSource.first(where: { isMarkColumn($0) }) {
            throw KBError(field: "deletes", problem: "\"soft\" marks rows in column \"\(markColumn)\", but KB table \"\(table.forMessage)\" holds source column \"\(clash.forMessage)\" there; use \"hard\", or another dest_table")
        }
        guard !existing.contains(where: { isMarkColumn($0) }) else { return }
        try kb.database.execute("ALTER TABLE \(SQLIdentifier.quote(table)) ADD COLUMN \(SQLIdentifier.quote(markColumn)) TEXT", [])
    }

    /// For the row writer: the `SET` assignment that clears a row's mark when the row is landed
    /// again (its key came back at the source), or nil when the table has no mark column. Any
    /// run clears it, whatever its own `deletes`: a row the source has is not deleted.
    public static func clearMarkAssignment(kb: KBFile, table: String, columns: [String]) throws -> String? {
        guard !columns.contains(where: { isMarkColumn($0) }),
              try kb.columnNames(of: table).contains(markColumn) else { return nil }
        return "\(SQLIdentifier.quote(markColumn)) = NULL"
    }

    static func isMarkColumn(_ name: String) -> Bool {
        String(name.unicodeScalars.map { $0.isASCII ? Character($0).lowercased() : String($0) }.joined()) == markColumn
    }
}
