import ConnectorCore
import SQLiteStore
import Testing

@Suite("Type mapping", .enabled(if: TestDatabase.isAvailable, TestDatabase.skipReason))
struct TypeMappingTests {
    @Test func everyMappedTypeRoundTrips() throws {
        let scratch = try Scratch()
        try scratch.sql("""
            CREATE TYPE {s}.mood AS ENUM ('sad', 'happy');
            CREATE TABLE {s}.typed (
                id int PRIMARY KEY, i2 smallint, i4 integer, i8 bigint, num numeric(30,10), big numeric,
                f4 real, f8 double precision, nan double precision, inf double precision, b boolean,
                t text, vc varchar(10), c char(4), raw bytea, d date, tm time, tmz timetz,
                ts timestamp, tsz timestamptz, tsinf timestamptz, iv interval, u uuid, j json, jb jsonb,
                ints int[], texts text[], m {s}.mood, n text);
            INSERT INTO {s}.typed VALUES (
                1, -32768, 2147483647, -9223372036854775808, 12345678901234567890.0123456789, 0.1000000000000000000000000001,
                1.5, 0.1, 'NaN', '-Infinity', true,
                'héllo "quoted" ''single''', 'short', 'ab', '\\x00ff7f', '2026-02-28', '13:14:15.123456', '13:14:15+02',
                '2026-06-01 12:34:56.000001', '2026-06-01 12:34:56.123456+02', 'infinity', '1 year 2 mons 3 days 04:05:06.5',
                'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2.50]}', '{"b": {"c": null}}',
                ARRAY[1, NULL, 3], ARRAY['x', 'y "z"'], 'happy', NULL);
            """)
        try scratch.extract(scratch.spec(table: "typed", cursor: "id"))
        let row = try scratch.kb().rows("SELECT * FROM typed")[0]
        let names = try scratch.kb().rows("SELECT name FROM pragma_table_info('typed') ORDER BY cid").map { $0[0].text! }
        let value = Dictionary(uniqueKeysWithValues: zip(names, row))
        #expect(value["i2"] == .integer(-32768))
        #expect(value["i4"] == .integer(2147483647))
        #expect(value["i8"] == .integer(Int64.min))
        #expect(value["num"] == .text("12345678901234567890.0123456789"))
        #expect(value["big"] == .text("0.1000000000000000000000000001"))
        #expect(value["f4"] == .real(1.5))
        #expect(value["f8"] == .real(0.1))
        #expect(value["nan"] == .text("NaN"))
        #expect(value["inf"] == .real(-Double.infinity))
        #expect(value["b"] == .integer(1))
        #expect(value["t"] == .text("héllo \"quoted\" 'single'"))
        #expect(value["vc"] == .text("short"))
        #expect(value["c"] == .text("ab  "))
        #expect(value["raw"] == .blob([0x00, 0xff, 0x7f]))
        #expect(value["d"] == .text("2026-02-28"))
        #expect(value["tm"] == .text("13:14:15.123456"))
        #expect(value["tmz"] == .text("13:14:15+02"))
        #expect(value["ts"] == .text("2026-06-01T12:34:56.000001"))
        #expect(value["tsz"] == .text("2026-06-01T10:34:56.123456Z"))
        #expect(value["tsinf"] == .text("infinity"))
        #expect(value["iv"] == .text("P1Y2M3DT4H5M6.5S"))
        #expect(value["u"] == .text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"))
        #expect(value["j"] == .text(#"{"a": [1, 2.50]}"#))
        #expect(value["jb"] == .text(#"{"b": {"c": null}}"#))
        #expect(value["ints"] == .text("[1,null,3]"))
        #expect(value["texts"] == .text(#"["x","y \"z\""]"#))
        #expect(value["m"] == .text("happy"))
        #expect(value["n"] == .null)

        let declared = try scratch.kb().rows("SELECT column_name, source_type, kb_type FROM _timbal_columns WHERE table_name = 'typed' ORDER BY position")
        #expect(declared.count == names.count)
        #expect(declared[4] == [.text("num"), .text("numeric(30,10)"), .text("TEXT")])
    }
}
