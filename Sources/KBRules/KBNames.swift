/// The SQLite types a KB column may have: a closed set, so a type from the wire is checked, never
/// pasted into DDL as text (docs/types.md).
public enum KBType: String, Sendable, CaseIterable {
    case integer = "INTEGER"
    case real = "REAL"
    case text = "TEXT"
    case blob = "BLOB"

    /// The type of `column`, or an error naming the column, the value and the allowed types.
    public static func checked(_ raw: String, column: String) throws -> KBType {
        guard let type = KBType(rawValue: raw) else {
            throw KBError(field: "columns.kb_type",
                          problem: "column \"\(column.forMessage)\": \"\(raw.forMessage)\" is not one of \(allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return type
    }
}

/// The KB's own rules for names, checked before anything reaches SQLite: SQLite's refusals
/// ("object name reserved for internal use") are not the boundary.
public enum KBNames {
    /// Longest table or column name accepted (bytes).
    public static let maxBytes = 255

    /// Whether a table name is the KB's own (`_timbal_*`) or SQLite's (`sqlite_*`); SQLite names
    /// are case-insensitive, so the check is too.
    public static func isReserved(_ table: String) -> Bool {
        let lowered = table.lowercased()
        return lowered.hasPrefix("_timbal_") || lowered.hasPrefix("sqlite_")
    }

    /// A destination table a job may write: not reserved, not empty, no NUL, at most `maxBytes`.
    public static func checkDestination(_ table: String) throws {
        try checkName(table, field: "dest_table")
        if isReserved(table) {
            throw KBError(field: "dest_table", problem: "\"\(table.forMessage)\": names starting with \"_timbal_\" or \"sqlite_\" are reserved")
        }
    }

    /// A column name: not empty, no NUL, at most `maxBytes`.
    public static func checkColumn(_ name: String) throws {
        try checkName(name, field: "columns.name")
    }

    private static func checkName(_ name: String, field: String) throws {
        if name.isEmpty { throw KBError(field: field, problem: "expected a non-empty name") }
        if name.utf8.contains(0) { throw KBError(field: field, problem: "\"\(name.forMessage)\" holds a NUL character") }
        if name.utf8.count > maxBytes {
            throw KBError(field: field, problem: "\"\(name.forMessage)\" is \(name.utf8.count) bytes long, over the \(maxBytes)-byte limit")
        }
    }
}

extension String {
    /// The name as an error message quotes it: at most 80 characters, control characters escaped.
    var forMessage: String {
        let cut = count > 80 ? String(prefix(80)) + "…" : self
        return cut.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "\\u{\(String($0.value, radix: 16))}" : String($0) }.joined()
    }
}
