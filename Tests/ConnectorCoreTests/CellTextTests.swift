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
