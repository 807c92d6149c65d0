import CLibPQ

/// Finds what a user wrote in a DSN's password position, so no message can echo it, even when
/// libpq cannot parse the DSN (a malformed DSN is exactly when libpq quotes it back).
public enum ConninfoSecrets {
    /// Every candidate secret in `conninfo`: libpq's parsed password plus the raw text in the URI
    /// userinfo or after `password=`, both percent-decoded and as written.
    public static func find(in conninfo: String) -> [String] {
        var found = parsedPasswords(conninfo)
        found += uriPassword(conninfo)
        found += keywordPasswords(conninfo)
        var unique: [String] = []
        for secret in found where !secret.isEmpty && !unique.contains(secret) { unique.append(secret) }
        return unique
    }

    /// Whether libpq can parse `conninfo` at all; its error text is never shown (it quotes the DSN).
    public static func isParsable(_ conninfo: String) -> Bool {
        var errorMessage: UnsafeMutablePointer<CChar>?
        let options = PQconninfoParse(conninfo, &errorMessage)
        if let errorMessage { PQfreemem(errorMessage) }
        guard let options else { return false }
        PQconninfoFree(options)
        return true
    }

    /// Why libpq cannot parse `conninfo` (nil when it can), in libpq's words with every candidate
    /// secret masked: `invalid connection option "sslmdoe"`.
    public static func parseProblem(_ conninfo: String) -> String? {
        var errorMessage: UnsafeMutablePointer<CChar>?
        let options = PQconninfoParse(conninfo, &errorMessage)
        if let options {
            PQconninfoFree(options)
            if let errorMessage { PQfreemem(errorMessage) }
            return nil
        }
        var text = errorMessage.map { String(cString: $0) } ?? "libpq cannot parse it"
        if let errorMessage { PQfreemem(errorMessage) }
        for secret in find(in: conninfo) { text = text.replacing(secret, with: "***") }
        return text.split(whereSeparator: \.isNewline).joined(separator: " ")
    }

    private static func parsedPasswords(_ conninfo: String) -> [String] {
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &errorMessage) else {
            if let errorMessage { PQfreemem(errorMessage) }
            return []
        }
        defer { PQconninfoFree(options) }
        var found: [String] = []
        var option = options
        while let keyword = option.pointee.keyword {
            if String(cString: keyword) == "password", let value = option.pointee.val {
                found.append(String(cString: value))
            }
            option += 1
        }
        return found
    }

    /// `postgres[ql]://user:SECRET@host...`: the text between the first `:` of the userinfo and its last `@`.
    private static func uriPassword(_ conninfo: String) -> [String] {
        let bytes = Array(conninfo.utf8)
        let schemes = [Array("postgresql://".utf8), Array("postgres://".utf8)]
        guard let scheme = schemes.first(where: { bytes.starts(with: $0) }) else { return [] }
        let rest = bytes[scheme.count...]
        // The userinfo ends at the last '@' before the query (a password may hold '@' or '/').
        let authority = rest.prefix(while: { $0 != UInt8(ascii: "?") })
        guard let at = authority.lastIndex(of: UInt8(ascii: "@")) else { return [] }
        let userinfo = authority[..<at]
        guard let colon = userinfo.firstIndex(of: UInt8(ascii: ":")) else { return [] }
        let raw = String(decoding: userinfo[(colon + 1)...], as: UTF8.self)
        return [raw, percentDecoded(raw)].compactMap { $0 }
    }

    /// `password=SECRET` or `password='SE CRET'` in key=value form, and `?password=` in a URI query.
    private static func keywordPasswords(_ conninfo: String) -> [String] {
        let bytes = Array(conninfo.utf8)
        let keyword = Array("password".utf8)
        var found: [String] = []
        var index = 0
        while index + keyword.count <= bytes.count {
            guard bytes[index..<(index + keyword.count)].elementsEqual(keyword) else { index += 1; continue }
            var cursor = index + keyword.count
            while cursor < bytes.count, bytes[cursor] == UInt8(ascii: " ") { cursor += 1 }
            guard cursor < bytes.count, bytes[cursor] == UInt8(ascii: "=") else { index += 1; continue }
            cursor += 1
            while cursor < bytes.count, bytes[cursor] == UInt8(ascii: " ") { cursor += 1 }
            let rawStart = cursor
            var value: [UInt8] = []
            if cursor < bytes.count, bytes[cursor] == UInt8(ascii: "'") {
                cursor += 1
                // An unbalanced quote runs to the end: all of it is treated as the secret.
                while cursor < bytes.count, bytes[cursor] != UInt8(ascii: "'") {
                    if bytes[cursor] == UInt8(ascii: "\\"), cursor + 1 < bytes.count { cursor += 1 }
                    value.append(bytes[cursor])
                    cursor += 1
                }
            } else {
                while cursor < bytes.count, bytes[cursor] != UInt8(ascii: " "), bytes[cursor] != UInt8(ascii: "&") {
                    value.append(bytes[cursor])
                    cursor += 1
                }
            }
            if !value.isEmpty {
                let text = String(decoding: value, as: UTF8.self)
                found.append(text)
                if let decoded = percentDecoded(text) { found.append(decoded) }
                found.append(String(decoding: bytes[rawStart..<min(cursor + 1, bytes.count)], as: UTF8.self))
            }
            index = max(cursor, index + 1)
        }
        return found
    }

    private static func percentDecoded(_ text: String) -> String? {
        guard text.contains("%") else { return nil }
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.first {
            utf8 = utf8.dropFirst()
            if byte == UInt8(ascii: "%"), utf8.count >= 2,
               let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
