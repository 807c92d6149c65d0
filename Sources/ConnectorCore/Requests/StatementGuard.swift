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
        case "SET" where words.dropFirst().contains { $0.contains("TRANSACTION") || $0 == "CHARACTERISTICS" }:
            return "sql: SET TRANSACTION (or a transaction setting) is not allowed: the connector sets the batch's transaction itself"
        case "COPY":
            return "sql: COPY is not supported by ad-hoc queries (use SELECT; COPY to a file or program would run on the database server)"
        case "LOCK" where mode == .read:
            return "sql: LOCK is not allowed in read mode (an explicit lock could hold up the database's writers)"
        default:
            return nil
        }
    }

    /// Command tags of statements that must not have run (a second line of defence, after the
    /// statement: the batch stops there). `SET` is not here: most settings are harmless.
    static func forbiddenTag(_ tag: String) -> Bool {
        ["BEGIN", "START TRANSACTION", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "PREPARE TRANSACTION", "COPY", "LOCK TABLE"]
            .contains { tag == $0 || tag.hasPrefix($0 + " ") }
    }

    /// The statement's first words, upper-cased, after whitespace and comments, read as the
    /// server's lexer reads them: bytes, not characters (so "\r\n" is two whitespace bytes), a
    /// `--` comment ending at a newline or a carriage return, `/* */` comments nested, and a word
    /// being a run of identifier bytes (letters, digits, `_`, `$`, any non-ASCII byte).
    static func leadingWords(_ statement: String, count: Int) -> [String] {
        let bytes = Array(statement.utf8)
        var index = 0
        var words: [String] = []
        func at(_ offset: Int) -> UInt8? { index + offset < bytes.count ? bytes[index + offset] : nil }
        while words.count < count && index < bytes.count {
            let byte = bytes[index]
            if byte == 32 || (byte >= 9 && byte <= 13) {
                index += 1
            } else if byte == UInt8(ascii: "-") && at(1) == UInt8(ascii: "-") {
                while index < bytes.count && bytes[index] != 10 && bytes[index] != 13 { index += 1 }
            } else if byte == UInt8(ascii: "/") && at(1) == UInt8(ascii: "*") {
                var depth = 0
                repeat {
                    if bytes[index] == UInt8(ascii: "/") && at(1) == UInt8(ascii: "*") { depth += 1; index += 2; continue }
                    if bytes[index] == UInt8(ascii: "*") && at(1) == UInt8(ascii: "/") { depth -= 1; index += 2; continue }
                    index += 1
                } while depth > 0 && index < bytes.count
            } else if isIdentifierByte(byte) {
                let start = index
                while index < bytes.count && (isIdentifierByte(bytes[index]) || bytes[index] == UInt8(ascii: "$")) { index += 1 }
                words.append(String(decoding: bytes[start..<index], as: UTF8.self).uppercased())
            } else {
                break
            }
        }
        return words
    }

    private static func isIdentifierByte(_ byte: UInt8) -> Bool {
        (byte >= 97 && byte <= 122) || (byte >= 65 && byte <= 90) || (byte >= 48 && byte <= 57) || byte == 95 || byte >= 128
    }
}
