/// Splits a Postgres batch into its statements at top-level semicolons, skipping quoted text
/// ('…', E'…', "…", $tag$…$tag$) and comments (-- and nested /* */). Each piece then runs on its
/// own through the extended protocol, which refuses a piece holding two statements: a piece this
/// splitter got wrong fails, it never smuggles a second statement past the checks between them.
public enum SQLStatements {
    public static func split(_ sql: String) -> [String] {
        let text = Array(sql.utf8)
        var statements: [String] = []
        var start = 0
        var index = 0
        // Whether the current piece holds anything but whitespace and comments.
        var hasCode = false
        func peek(_ offset: Int) -> UInt8? { index + offset < text.count ? text[index + offset] : nil }
        func flush(upTo end: Int) {
            let piece = String(decoding: text[start..<end], as: UTF8.self)
            if hasCode { statements.append(piece.trimmingWhitespace()) }
            hasCode = false
        }
        while index < text.count {
            let byte = text[index]
            let isComment = (byte == UInt8(ascii: "-") && peek(1) == UInt8(ascii: "-"))
                || (byte == UInt8(ascii: "/") && peek(1) == UInt8(ascii: "*"))
            if !isComment && byte != UInt8(ascii: ";") && !(byte == 32 || (byte >= 9 && byte <= 13)) { hasCode = true }
            switch byte {
            case UInt8(ascii: "'"):
                let backslashEscapes = index > 0 && (text[index - 1] == UInt8(ascii: "E") || text[index - 1] == UInt8(ascii: "e"))
                    && (index < 2 || !isIdentifierByte(text[index - 2]))
                index += 1
                while index < text.count {
                    if backslashEscapes && text[index] == UInt8(ascii: "\\") { index += 2; continue }
                    if text[index] == UInt8(ascii: "'") {
                        if peek(1) == UInt8(ascii: "'") { index += 2; continue }
                        break
                    }
                    index += 1
                }
                index += 1
            case UInt8(ascii: "\""):
                index += 1
                while index < text.count {
                    if text[index] == UInt8(ascii: "\"") {
                        if peek(1) == UInt8(ascii: "\"") { index += 2; continue }
                        break
                    }
                    index += 1
                }
                index += 1
            case UInt8(ascii: "-") where peek(1) == UInt8(ascii: "-"):
                // The server ends a `--` comment at a newline or a carriage return.
                while index < text.count && text[index] != UInt8(ascii: "\n") && text[index] != UInt8(ascii: "\r") { index += 1 }
            case UInt8(ascii: "/") where peek(1) == UInt8(ascii: "*"):
                var depth = 0
                repeat {
                    if text[index] == UInt8(ascii: "/") && peek(1) == UInt8(ascii: "*") { depth += 1; index += 2; continue }
                    if text[index] == UInt8(ascii: "*") && peek(1) == UInt8(ascii: "/") { depth -= 1; index += 2; continue }
                    index += 1
                } while depth > 0 && index < text.count
            case UInt8(ascii: "$") where index == 0 || !isIdentifierByte(text[index - 1]):
                guard let tagEnd = dollarTagEnd(text, from: index) else { index += 1; continue }
                let tag = Array(text[index...tagEnd])
                index = tagEnd + 1
                while index < text.count {
                    if text[index] == UInt8(ascii: "$"), index + tag.count <= text.count, Array(text[index..<index + tag.count]) == tag {
                        index += tag.count
                        break
                    }
                    index += 1
                }
            case UInt8(ascii: ";"):
                flush(upTo: index)
                index += 1
                start = index
            default:
                index += 1
            }
        }
        if start < text.count { flush(upTo: text.count) }
        return statements
    }

    /// `$$` or `$tag$`: the index of the closing `$` of the opening tag, or nil (a `$1` parameter).
    private static func dollarTagEnd(_ text: [UInt8], from start: Int) -> Int? {
        var index = start + 1
        while index < text.count {
            let byte = text[index]
            if byte == UInt8(ascii: "$") { return index }
            let digit = byte >= 48 && byte <= 57
            if !isIdentifierByte(byte) || (digit && index == start + 1) { return nil }
            index += 1
        }
        return nil
    }

    private static func isIdentifierByte(_ byte: UInt8) -> Bool {
        (byte >= 97 && byte <= 122) || (byte >= 65 && byte <= 90) || (byte >= 48 && byte <= 57) || byte == 95 || byte >= 128
    }
}

extension String {
    func trimmingWhitespace() -> String {
        String(drop(while: { $0.isWhitespace }).reversed().drop(while: { $0.isWhitespace }).reversed())
    }
}
