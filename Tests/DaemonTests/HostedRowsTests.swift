import ChannelProtocol
import DevPlane
import Foundation
import SQLiteStore
import Testing

/// The plane's hot loop for hosted batches (`RowsLander`, through `HostedKBs.land`): every cell
/// shape the connector sends lands as the local KB would store it, and a malformed batch lands
/// nothing, not even the rows before the fault.
@Suite("Hosted rows")
struct HostedRowsTests {
    let kbs: HostedKBs
    let dataDir = NSTemporaryDirectory() + "timbal-hosted-rows-\(UUID().uuidString.prefix(8))"

    init() throws { kbs = try HostedKBs(dataDir: dataDir, servedKBs: [1]) }

    private let columns = [("id", "INTEGER"), ("f", "REAL"), ("t", "TEXT"), ("raw", "BLOB"), ("a", "TEXT"), ("b", "INTEGER")]

    private func batch(seq: Int64, table: String, inKeyOrder: Bool = false) -> HostedBatch {
        var batch = HostedBatch(jobID: "job-\(table)", seq: seq, kbID: 1, destTable: table, mode: "append", keyColumns: ["id"],
                                columns: columns.map { .init(name: $0.0, dataType: "x", kbType: $0.1) }, rows: [], checkpoint: nil)
        batch.runStart = seq == 1
        batch.inKeyOrder = inKeyOrder
        return batch
    }

    @discardableResult
    private func land(_ rows: String, seq: Int64 = 1, table: String = "t", inKeyOrder: Bool = false) throws -> Bool {
        let bytes = Array(#"{"rows": "#.utf8) + Array(rows.utf8) + Array("}".utf8)
        return try kbs.land(batch(seq: seq, table: table, inKeyOrder: inKeyOrder), bytes: bytes, rows: 9..<(9 + rows.utf8.count))
    }

    private func stored(_ table: String = "t") throws -> [[SQLiteValue]] {
        try SQLiteDatabase(path: kbs.path(kbID: 1), readOnly: true).rows("SELECT * FROM \(table) ORDER BY id")
    }

    @Test func everyCellShapeLandsAsTheLocalKBStoresIt() throws {
        try land(#"""
            [ [1, 0.5, "plain", "0x00ff7F", [1,null,3], true],
              [2 , -1.5e-3 ,"say \"hi\"\n\u00e9\ud83d\ude00\/", "x", {"k": "]}\"", "n": [2]}, false] ,
              [3, "Infinity", null, null, ["[", "\\"], null],
              [4, "-Infinity", "", "0x", [], 9223372036854775807],
              [5, "NaN", "12.50", "0x", "a", -9223372036854775808],
              [6, 1e300, "", "", "", 12.5]
            ]
            """#)
        let rows = try stored()
        #expect(rows.count == 6)
        #expect(rows[0] == [.integer(1), .real(0.5), .text("plain"), .blob([0x00, 0xff, 0x7f]), .text("[1,null,3]"), .integer(1)])
        #expect(rows[1] == [.integer(2), .real(-0.0015), .text("say \"hi\"\né😀/"), .text("x"), .text(#"{"k": "]}\"", "n": [2]}"#), .integer(0)])
        #expect(rows[2] == [.integer(3), .real(.infinity), .null, .null, .text(#"["[", "\\"]"#), .null])
        #expect(rows[3] == [.integer(4), .real(-.infinity), .text(""), .blob([]), .text("[]"), .integer(.max)])
        // NaN is kept as text (SQLite has no NaN); a non-integer in an INTEGER column is bound as
        // its text and SQLite's INTEGER affinity makes it the number it is.
        #expect(rows[4] == [.integer(5), .text("NaN"), .text("12.50"), .blob([]), .text("a"), .integer(.min)])
        #expect(rows[5] == [.integer(6), .real(1e300), .text(""), .text(""), .text(""), .real(12.5)])
    }

    /// Rows out of key order are sorted before they are written; `key_order` skips the sort, and
    /// a batch that claims it wrongly still lands exactly, the later version of a key last.
    @Test(arguments: [false, true])
    func rowsInAnyOrderLandByKeyWhateverTheBatchClaims(claimsKeyOrder: Bool) throws {
        try land(#"[[1, 1, "a", "0x", [], true], [2, 1, "a", "0x", [], true], [3, 1, "a", "0x", [], true]]"#, seq: 1, table: "o")
        try land(#"[[3, 2, "b", "0x", [], true], [9, 2, "b", "0x", [], true], [1, 2, "b", "0x", [], true], [3, 3, "c", "0x", [], false]]"#,
                 seq: 2, table: "o", inKeyOrder: claimsKeyOrder)
        let rows = try stored("o").map { [$0[0], $0[1], $0[2]] }
        #expect(rows == [[.integer(1), .real(2), .text("b")], [.integer(2), .real(1), .text("a")],
                         [.integer(3), .real(3), .text("c")], [.integer(9), .real(2), .text("b")]])
    }

    @Test(arguments: [
        #"[[1, 0.5, "a", "0x", [], true], [2, 0.5, "a", "0x", [], tru]]"#,  // a broken literal
        #"[[1, 0.5, "a", "0x", [], true], [2, 0.5, "a", "0x", [], true]"#,   // the array never closes
        #"[[1, 0.5, "a", "0x", [], true], [2, 0.5, "a", "0x", []]]"#,        // a cell missing
        #"[[1, 0.5, "a", "0x", [], true], [2, 0.5, "a\u00zz", "0x", [], true]]"#,  // a bad escape
        #"[[1, 0.5, "a", "0x", [], true], [2, 0.5, "a"#,                    // cut inside a string
        #"[[1, 0.5, "a", "0x", [1, 2"#,                                     // cut inside an array cell
        #"[[1, 0.5, "a", "0x", [], true] [2, 0.5, "a", "0x", [], true]]"#,  // a comma missing
    ])
    func aMalformedBatchLandsNothing(rows: String) throws {
        try land(#"[[100, 1, "kept", "0x", [], true]]"#, seq: 1, table: "m")
        #expect(throws: (any Error).self) { try land(rows, seq: 2, table: "m") }
        #expect(try stored("m") == [[.integer(100), .real(1), .text("kept"), .blob([]), .text("[]"), .integer(1)]])
        // The batch was not recorded: sent again, well formed, it lands.
        #expect(try land(#"[[2, 0.5, "a", "0x", [], true]]"#, seq: 2, table: "m"))
        #expect(try stored("m").count == 2)
    }
}
