/// What an ad-hoc statement may not be, by its leading words (each piece of a batch is one
/// statement: SQLStatements and the extended protocol make sure of that).
///
/// - Transaction control, in both modes: the connector opens the batch's one transaction and ends
///   it (read: rolled back; write: committed, or all rolled back on an error). `COMMIT AND CHAIN`
///   followed by `SET TRANSACTION READ WRITE` would otherwise write in read mode, and a `COMMIT`
///   mid-batch would commit half of a write batch.
/// - `COPY`, in both modes: to or from the client it is not a query answer, and to or from a file
///   or a program it runs on the database server.
/// - In read mode, `LOCK`: an explicit lock could block production writers for the whole timeout.
enum StatementGuard {
    static func refusal(_ statement: String, mode: QueryMode) -> String? {
        let words = leadingWords(statement, count: 3)
        guard let first = words.first else { return nil }
        switch first {
        case "BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "SAVEPOINT", "RELEASE":
            return "sql: \(first) is not allowed: the connector runs the batch as one transaction and ends it itself"
        case "PREPARE" where words.count > 1 && words[1] == "TRANSACTION":
            return "sql: PREPARE TRANSACTION is not allowed: the connector runs the batch as one transaction and ends it itself"
        case "SET" where words.dropFirst().contains("TRANSACTION") || words.dropFirst().contains("CHARACTERISTICS"):
            return "sql: SET TRANSACTION is not allowed: the connector sets the batch's transaction itself"
        case "COPY":
            return "sql: COPY is not supported by ad-hoc queries (use SELECT; COPY to a file or program would run on the database server)"
        case "LOCK" where mode == .read:
            return "sql: LOCK is not allowed in read mode (an explicit lock could hold up the database's writers)"
        default:
            return nil
        }
    }

    /// The statement's first words, upper-cased, after whitespace and comments.
    static func leadingWords(_ statement: String, count: Int) -> [String] {
        var rest = Substring(statement)
        var words: [String] = []
        while words.count < count {
            rest = rest.drop { $0.isWhitespace }
            if rest.hasPrefix("--") {
                rest = rest.drop { $0 != "\n" }
                continue
            }
            if rest.hasPrefix("/*") {
                var depth = 0
                while !rest.isEmpty {
                    if rest.hasPrefix("/*") { depth += 1; rest = rest.dropFirst(2); continue }
                    if rest.hasPrefix("*/") { depth -= 1; rest = rest.dropFirst(2); if depth == 0 { break }; continue }
                    rest = rest.dropFirst()
                }
                continue
            }
            let word = rest.prefix { $0.isLetter || $0 == "_" }
            guard !word.isEmpty else { break }
            words.append(word.uppercased())
            rest = rest.dropFirst(word.count)
        }
        return words
    }
}
