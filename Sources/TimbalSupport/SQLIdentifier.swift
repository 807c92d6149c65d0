/// Quotes identifiers for Postgres and SQLite: always double-quoted, inner quotes doubled,
/// so a name is never read as SQL whatever it holds (quotes, spaces, semicolons, case).
public enum SQLIdentifier {
    public static func quote(_ name: String) -> String {
        "\"" + name.replacingAll("\"", with: "\"\"") + "\""
    }

    public static func quote(schema: String, table: String) -> String {
        quote(schema) + "." + quote(table)
    }
}

extension String {
    public func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        out.reserveCapacity(count)
        for character in self {
            if character == target { out += replacement } else { out.append(character) }
        }
        return out
    }
}
