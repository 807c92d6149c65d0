import TimbalModel
import TimbalSupport
import KBRules
import SQLiteStore

/// Binds the cells of a batch's raw `rows` JSON (`[[cell, ...], ...]`) straight into an INSERT,
/// one row at a time, without building a JSON tree: the plane's hot loop for hosted batches.
struct RowsLander {
    let bytes: [UInt8]
    let range: Range<Int>
    let kbTypes: [String]

    struct Malformed: Error, CustomStringConvertible {
        let offset: Int
        var description: String { "rows: malformed JSON at byte \(offset)" }
    }

    /// Writes every row through `writer` (which may bind a row twice, to merge it by key);
    /// returns the number of rows.
    func land(into writer: KBRowWriter) throws -> Int {
        var index = range.lowerBound
        var rows = 0
        func skipSpace() { while index < range.upperBound, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[index]) { index += 1 } }
        func expect(_ byte: UInt8) throws {
            skipSpace()
            guard index < range.upperBound, bytes[index] == byte else { throw Malformed(offset: index) }
            index += 1
        }
        try expect(UInt8(ascii: "["))
        skipSpace()
        if index < range.upperBound, bytes[index] == UInt8(ascii: "]") { return 0 }
        while true {
            try expect(UInt8(ascii: "["))
            let rowStart = index
            try writer.row { statement in
                index = rowStart
                for column in 0..<kbTypes.count {
                    if column > 0 { try expect(UInt8(ascii: ",")) }
                    skipSpace()
                    try bindCell(at: &index, column: column, into: statement)
                }
            }
            try expect(UInt8(ascii: "]"))
            rows += 1
            skipSpace()
            guard index < range.upperBound else { throw Malformed(offset: index) }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "]") { return rows }
            throw Malformed(offset: index)
        }
    }

    private func bindCell(at index: inout Int, column: Int, into statement: SQLiteStatement) throws {
        let position = column + 1
        let type = kbTypes[column]
        guard index < range.upperBound else { throw Malformed(offset: index) }
        switch bytes[index] {
        case UInt8(ascii: "n"):
            index += 4
            try statement.bindNull(at: position)
        case UInt8(ascii: "t"):
            index += 4
            try statement.bindInteger(1, at: position)
        case UInt8(ascii: "f"):
            index += 5
            try statement.bindInteger(0, at: position)
        case UInt8(ascii: "\""):
            let start = index + 1
            var end = start
            var escaped = false
            while end < range.upperBound, bytes[end] != UInt8(ascii: "\"") {
                if bytes[end] == UInt8(ascii: "\\") { escaped = true; end += 2 } else { end += 1 }
            }
            guard end < range.upperBound else { throw Malformed(offset: index) }
            index = end + 1
            if escaped {
                var text: [UInt8] = []
                guard Self.unescape(bytes, start..<end, into: &text) else { throw Malformed(offset: start) }
                try text.withUnsafeBufferPointer { try statement.bindTextCopy($0, at: position) }
            } else {
                try bytes.withUnsafeBufferPointer { all in
                    let cell = UnsafeBufferPointer(rebasing: all[start..<end])
                    if type == "BLOB", cell.count >= 2, cell[0] == UInt8(ascii: "0"), cell[1] == UInt8(ascii: "x") {
                        var blob: [UInt8] = []
                        blob.reserveCapacity((cell.count - 2) / 2)
                        var i = 2
                        while i + 1 < cell.count {
                            blob.append(Self.hex(cell[i]) << 4 | Self.hex(cell[i + 1]))
                            i += 2
                        }
                        try blob.withUnsafeBytes { try statement.bindBlob($0, at: position) }
                    } else if type == "REAL", let special = Self.specialReal(cell) {
                        try statement.bindReal(special, at: position)
                    } else {
                        try statement.bindTextCopy(cell, at: position)
                    }
                }
            }
        case UInt8(ascii: "["), UInt8(ascii: "{"):
            // An array column: stored as its JSON text.
            let start = index
            var depth = 0
            repeat {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    index += 1
                    while bytes[index] != UInt8(ascii: "\"") { index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1 }
                } else if byte == UInt8(ascii: "[") || byte == UInt8(ascii: "{") {
                    depth += 1
                } else if byte == UInt8(ascii: "]") || byte == UInt8(ascii: "}") {
                    depth -= 1
                }
                index += 1
            } while depth > 0 && index < range.upperBound
            try bytes.withUnsafeBufferPointer { try statement.bindTextCopy(UnsafeBufferPointer(rebasing: $0[start..<index]), at: position) }
        default:
            let start = index
            while index < range.upperBound, ![UInt8(ascii: ","), UInt8(ascii: "]"), 0x20, 0x0A].contains(bytes[index]) { index += 1 }
            try bytes.withUnsafeBufferPointer { all in
                let cell = UnsafeBufferPointer(rebasing: all[start..<index])
                if type == "INTEGER", let value = CellText.int64(cell) {
                    try statement.bindInteger(value, at: position)
                } else if type == "REAL", let value = Double(String(decoding: cell, as: UTF8.self)) {
                    try statement.bindReal(value, at: position)
                } else {
                    try statement.bindTextCopy(cell, at: position)
                }
            }
        }
    }

    /// Decodes a JSON string body (between the quotes) into UTF-8 bytes.
    static func unescape(_ bytes: [UInt8], _ range: Range<Int>, into out: inout [UInt8]) -> Bool {
        out.reserveCapacity(range.count)
        var index = range.lowerBound
        func hex4(_ at: Int) -> UInt32? {
            guard at + 4 <= range.upperBound else { return nil }
            var value: UInt32 = 0
            for i in at..<at + 4 {
                let b = bytes[i]
                let digit: UInt32
                switch b {
                case 48...57: digit = UInt32(b - 48)
                case 97...102: digit = UInt32(b - 87)
                case 65...70: digit = UInt32(b - 55)
                default: return nil
                }
                value = value << 4 | digit
            }
            return value
        }
        while index < range.upperBound {
            let byte = bytes[index]
            guard byte == UInt8(ascii: "\\") else { out.append(byte); index += 1; continue }
            guard index + 1 < range.upperBound else { return false }
            let escape = bytes[index + 1]
            index += 2
            switch escape {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                guard var code = hex4(index) else { return false }
                index += 4
                if (0xD800..<0xDC00).contains(code) {
                    guard index + 6 <= range.upperBound, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u"),
                          let low = hex4(index + 2), (0xDC00..<0xE000).contains(low) else { return false }
                    index += 6
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let scalar = Unicode.Scalar(code) else { return false }
                out.append(contentsOf: String(Character(scalar)).utf8)
            default: return false
            }
        }
        return true
    }

    static func specialReal(_ cell: UnsafeBufferPointer<UInt8>) -> Double? {
        switch String(decoding: cell, as: UTF8.self) {
        case "Infinity": return .infinity
        case "-Infinity": return -.infinity
        default: return nil
        }
    }

    static func hex(_ byte: UInt8) -> UInt8 {
        switch byte {
        case 48...57: return byte - 48
        case 97...102: return byte - 87
        case 65...70: return byte - 55
        default: return 0
        }
    }
}
