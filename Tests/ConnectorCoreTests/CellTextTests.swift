#if canImport(Glibc)
import Glibc
#endif
import KBRules
import Testing
@testable import ConnectorCore

@Suite("Cell conversions")
struct CellTextTests {
    func withBytes<R>(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        Array(text.utf8).withUnsafeBufferPointer(body)
    }

    func iso(_ text: String, zone: Bool) -> String? {
        let out = UnsafeMutablePointer<UInt8>.allocate(capacity: 32)
        defer { out.deallocate() }
        return withBytes(text) { bytes in
            CellText.isoTimestamp(bytes, withZone: zone, into: out).map {
                String(decoding: UnsafeBufferPointer(start: out, count: $0), as: UTF8.self)
            }
        }
    }

    @Test func parsesIntegersIncludingTheExtremes() {
        #expect(withBytes("0") { CellText.int64($0) } == 0)
        #expect(withBytes("-42") { CellText.int64($0) } == -42)
        #expect(withBytes("9223372036854775807") { CellText.int64($0) } == Int64.max)
        #expect(withBytes("-9223372036854775808") { CellText.int64($0) } == Int64.min)
        #expect(withBytes("9223372036854775808") { CellText.int64($0) } == nil)
        #expect(withBytes("12a") { CellText.int64($0) } == nil)
        #expect(withBytes("") { CellText.int64($0) } == nil)
        #expect(withBytes("-") { CellText.int64($0) } == nil)
    }

    @Test func decodesByteaHex() {
        var out: [UInt8] = []
        #expect(withBytes("\\x00ff10Ab") { CellText.byteaHex($0, into: &out) })
        #expect(out == [0x00, 0xff, 0x10, 0xab])
        #expect(withBytes("\\x") { CellText.byteaHex($0, into: &out) })
        #expect(out.isEmpty)
        #expect(!withBytes("\\x0g") { CellText.byteaHex($0, into: &out) })
        #expect(!withBytes("abc") { CellText.byteaHex($0, into: &out) })
    }

    @Test func writesTimestampsAsFixedWidthISO8601() {
        #expect(iso("2026-06-01 12:34:56.123456+00", zone: true) == "2026-06-01T12:34:56.123456Z")
        #expect(iso("2026-06-01 12:34:56.5+00", zone: true) == "2026-06-01T12:34:56.500000Z")
        #expect(iso("2026-06-01 12:34:56+00", zone: true) == "2026-06-01T12:34:56.000000Z")
        #expect(iso("2026-06-01 12:34:56.000001", zone: false) == "2026-06-01T12:34:56.000001")
        #expect(iso("2026-06-01 12:34:56", zone: false) == "2026-06-01T12:34:56.000000")
    }

    @Test func leavesUnusualTimestampsAsPostgresPrintedThem() {
        #expect(iso("infinity", zone: true) == nil)
        #expect(iso("-infinity", zone: false) == nil)
        #expect(iso("0044-03-15 12:00:00 BC", zone: false) == nil)
        #expect(iso("0044-03-15 12:00:00+00 BC", zone: true) == nil)
        #expect(iso("12026-06-01 12:34:56+00", zone: true) == nil)
        #expect(iso("2026-06-01 12:34:56+05:30", zone: true) == nil)
    }

    @Test func quotesIdentifiersSoTheyAreNeverSQL() {
        #expect(SQLIdentifier.quote("events") == "\"events\"")
        #expect(SQLIdentifier.quote("we\"ird; DROP TABLE x; --") == "\"we\"\"ird; DROP TABLE x; --\"")
        #expect(SQLIdentifier.quote(schema: "My Schema", table: "T\"") == "\"My Schema\".\"T\"\"\"")
    }

    /// The fast path must give strtod's exact bits whenever it answers, and decline the rest.
    @Test func exactDoublesAreStrtodsBitForBit() {
        func strtodValue(_ text: String) -> Double { text.withCString { strtod($0, nil) } }
        func check(_ text: String) -> Bool {
            guard let fast = withBytes(text, CellText.exactDouble) else { return false }
            #expect(fast.bitPattern == strtodValue(text).bitPattern, "\(text): \(fast) vs strtod \(strtodValue(text))")
            return true
        }
        var generator = SystemRandomNumberGenerator()
        var answered = 0
        for _ in 0..<20_000 {
            let value = Double.random(in: -1000...1000, using: &generator)
            let scaled = value * Double(sign: .plus, exponent: Int.random(in: -80...80, using: &generator), significand: 1)
            for text in [value.description, scaled.description, String(format: "%.17g", value), String(format: "%.6f", value),
                         String(format: "%.3e", scaled)] where check(text) {
                answered += 1
            }
        }
        #expect(answered > 30_000)  // most of Postgres's shortest forms take the fast path
        for text in ["0", "-0", "1", "-1.5", "0.1", "433.107519809455", "1e22", "1e-22", "9007199254740992", "1.", ".5", "1.5e+3", "25E-2"] {
            #expect(check(text), "\(text) should take the fast path")
        }
        #expect(withBytes("-0", CellText.exactDouble)?.sign == .minus)
        for text in ["", "-", ".", "e5", "1e", "1e+", "NaN", "Infinity", "-Infinity", "1e23", "1e-23", "9007199254740993",
                     "12345678901234567890", "0.30000000000000004", "1.5x", " 1", "1 ", "--1", "1e99999"] {
            #expect(withBytes(text, CellText.exactDouble) == nil, "\(text) should be left to strtod")
        }
    }
}

@Suite("Hosted rows as JSON")
struct JSONRowEncoderTests {
    /// Every byte a JSON string must escape, in cells small and large (escapes across the
    /// encoder's 4 KiB chunks), reads back as the same text; numbers stay numbers.
    @Test func cellsReadBackExactlyFromTheJSON() throws {
        var control = ""
        for scalar in 0..<0x20 { control.unicodeScalars.append(Unicode.Scalar(UInt8(scalar))) }
        let large = String(repeating: "ab\"c\\d\u{1}é\n", count: 2_000)  // 18 KB, escapes everywhere
        let cells: [String?] = ["42", "-1.5", "t", "\\x00ff", "2026-06-01 12:00:00.5+00", control + "\"\\/", large, nil, "12.50"]
        let kinds: [ColumnKind] = [.integer, .real, .boolean, .bytea, .timestamptz, .text, .text, .text, .numeric]
        let encoder = JSONRowEncoder(kinds: kinds)
        var bytes: [UInt8] = []
        encoder.appendRow(cells, to: &bytes)
        let row = try JSONParser.parse(bytes)
        #expect(row == .array([.number("42"), .number("-1.5"), .bool(true), .string("0x00ff"), .string("2026-06-01T12:00:00.500000Z"),
                               .string(control + "\"\\/"), .string(large), .null, .string("12.50")]))
    }
}

@Suite("JSON parsing")
struct JSONParserTests {
    @Test func keepsNumbersExactAndDecodesEscapes() throws {
        let value = try JSONParser.parse(#"{"a": 9007199254740993, "b": 0.10000000000000000001, "s": "x\"\\\u00e9\ud83d\ude00\n"}"#)
        #expect(value["a"] == .number("9007199254740993"))
        #expect(value["b"] == .number("0.10000000000000000001"))
        #expect(value["s"] == .string("x\"\\é😀\n"))
    }

    @Test func leavesTheLastMemberRawForStreaming() throws {
        let bytes = Array(#"{"type": "batch", "seq": 3, "rows": [[1, "a"], [2, "b"]] }"#.utf8)
        let (tree, range) = try JSONParser.parse(bytes, leavingLastMemberRaw: "rows")
        #expect(tree["seq"] == .number("3"))
        #expect(tree["rows"] == .null)
        #expect(range.map { String(decoding: bytes[$0], as: UTF8.self) } == #"[[1, "a"], [2, "b"]]"#)
    }

    @Test func rejectsMalformedDocuments() {
        for text in [#"{"a": }"#, "[1, 2", #"{"a": "\x"}"#, "01x", #"{"a" 1}"#, "[1,]"] {
            #expect(throws: JSONParser.SyntaxError.self) { try JSONParser.parse(text) }
        }
    }

}
