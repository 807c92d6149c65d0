#if canImport(Glibc)
import Glibc
#endif
import TimbalModel
import TimbalSupport
import KBRules
import SQLiteStore

/// Binds the cells of a batch's raw `rows` JSON (`[[cell, ...], ...]`) straight into an INSERT,
/// one row at a time, without building a JSON tree: the plane's hot loop for hosted batches.
/// Each row is scanned once into cell descriptors, which are then bound (twice when the row
/// merges by key); cells without escapes are bound from the message's own bytes.
struct RowsLander {
    let bytes: [UInt8]
    let range: Range<Int>
    let kbTypes: [String]

    struct Malformed: Error, CustomStringConvertible {
        let offset: Int
        var description: String { "rows: malformed JSON at byte \(offset)" }
    }

    /// How a column's cells are stored, from its KB type.
    enum Storage { case integer, real, blob, other }

    /// One scanned cell. Text ranges index the message (`raw`) or the row's scratch buffer.
    enum Cell {
        case null
        case integer(Int64)
        case real(Double)
        case raw(Range<Int>)
        case unescaped(Range<Int>)
        case blob(Range<Int>)
    }

    /// Writes every row through `writer` (which may bind a row twice, to merge it by key);
    /// returns the number of rows.
    func land(into writer: KBRowWriter) throws -> Int {
        let storage: [Storage] = kbTypes.map {
            switch $0 {
            case "INTEGER": return .integer
            case "REAL": return .real
            case "BLOB": return .blob
            default: return .other
            }
        }
        return try bytes.withUnsafeBufferPointer { all in
            var scanner = RowScanner(bytes: all, index: range.lowerBound, end: range.upperBound)
            var cells = [Cell](repeating: .null, count: storage.count)
            var scratch: [UInt8] = []
            var rows = 0
            try scanner.expect(UInt8(ascii: "["))
            if scanner.peek() == UInt8(ascii: "]") { return 0 }
            while true {
                try scanner.expect(UInt8(ascii: "["))
                scratch.removeAll(keepingCapacity: true)
                for column in 0..<storage.count {
                    if column > 0 { try scanner.expect(UInt8(ascii: ",")) }
                    cells[column] = try scanner.cell(storage[column], scratch: &scratch)
                }
                try scanner.expect(UInt8(ascii: "]"))
                try scratch.withUnsafeBufferPointer { scratchBytes in
                    try writer.row { statement in try Self.bind(cells, all, scratchBytes, into: statement) }
                }
                rows += 1
                switch scanner.peek() {
                case UInt8(ascii: ","): scanner.index += 1
                case UInt8(ascii: "]"): return rows
                default: throw Malformed(offset: scanner.index)
                }
            }
        }
    }

    private static func bind(_ cells: [Cell], _ message: UnsafeBufferPointer<UInt8>, _ scratch: UnsafeBufferPointer<UInt8>,
                             into statement: SQLiteStatement) throws {
        for (column, cell) in cells.enumerated() {
            let position = column + 1
            switch cell {
            case .null: try statement.bindNull(at: position)
            case .integer(let value): try statement.bindInteger(value, at: position)
            case .real(let value): try statement.bindReal(value, at: position)
            case .raw(let range): try statement.bindTextNoCopy(UnsafeBufferPointer(rebasing: message[range]), at: position)
            case .unescaped(let range): try statement.bindTextNoCopy(UnsafeBufferPointer(rebasing: scratch[range]), at: position)
            case .blob(let range): try statement.bindBlob(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: scratch[range])), at: position)
            }
        }
    }
}

/// Reads the rows JSON by bytes; `index` is the next unread byte.
private struct RowScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var index: Int
    let end: Int

    /// The next byte after white space (0 at the end).
    mutating func peek() -> UInt8 {
        skipSpace()
        return index < end ? bytes[index] : 0
    }

    mutating func skipSpace() {
        while index < end {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    mutating func expect(_ byte: UInt8) throws {
        guard peek() == byte else { throw RowsLander.Malformed(offset: index) }
        index += 1
    }

    mutating func cell(_ storage: RowsLander.Storage, scratch: inout [UInt8]) throws -> RowsLander.Cell {
        switch peek() {
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "t"): try literal("true"); return .integer(1)
        case UInt8(ascii: "f"): try literal("false"); return .integer(0)
        case UInt8(ascii: "\""): return try string(storage, scratch: &scratch)
        case UInt8(ascii: "["), UInt8(ascii: "{"): return .raw(try composite())  // an array column, kept as its JSON text
        case 0: throw RowsLander.Malformed(offset: index)
        default: return number(storage)
        }
    }

    private mutating func literal(_ word: StaticString) throws {
        let length = word.utf8CodeUnitCount
        guard index + length <= end, memcmp(bytes.baseAddress! + index, word.utf8Start, length) == 0 else {
            throw RowsLander.Malformed(offset: index)
        }
        index += length
    }

    private mutating func string(_ storage: RowsLander.Storage, scratch: inout [UInt8]) throws -> RowsLander.Cell {
        let start = index + 1
        var close = start
        var escaped = false
        while close < end, bytes[close] != UInt8(ascii: "\"") {
            if bytes[close] == UInt8(ascii: "\\") { escaped = true; close += 2 } else { close += 1 }
        }
        guard close < end else { throw RowsLander.Malformed(offset: index) }
        index = close + 1
        if escaped {
            let from = scratch.count
            guard JSONStringBody.unescape(bytes, start..<close, into: &scratch) else { throw RowsLander.Malformed(offset: start) }
            return .unescaped(from..<scratch.count)
        }
        let cell = UnsafeBufferPointer(rebasing: bytes[start..<close])
        switch storage {
        case .blob where cell.count >= 2 && cell[0] == UInt8(ascii: "0") && cell[1] == UInt8(ascii: "x"):
            let from = scratch.count
            var i = 2
            while i + 1 < cell.count {
                scratch.append(Self.hex(cell[i]) << 4 | Self.hex(cell[i + 1]))
                i += 2
            }
            return .blob(from..<scratch.count)
        case .real where cell.elementsEqual("Infinity".utf8): return .real(.infinity)
        case .real where cell.elementsEqual("-Infinity".utf8): return .real(-.infinity)
        default: return .raw(start..<close)
        }
    }

    private mutating func composite() throws -> Range<Int> {
        let start = index
        var depth = 0
        repeat {
            guard index < end else { throw RowsLander.Malformed(offset: start) }
            switch bytes[index] {
            case UInt8(ascii: "\""):
                index += 1
                while index < end, bytes[index] != UInt8(ascii: "\"") { index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1 }
            case UInt8(ascii: "["), UInt8(ascii: "{"): depth += 1
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
            index += 1
        } while depth > 0
        guard index <= end else { throw RowsLander.Malformed(offset: start) }
        return start..<index
    }

    private mutating func number(_ storage: RowsLander.Storage) -> RowsLander.Cell {
        let start = index
        scan: while index < end {
            switch bytes[index] {
            case UInt8(ascii: ","), UInt8(ascii: "]"), 0x20, 0x0A, 0x0D, 0x09: break scan
            default: index += 1
            }
        }
        let cell = UnsafeBufferPointer(rebasing: bytes[start..<index])
        switch storage {
        case .integer:
            if let value = CellText.int64(cell) { return .integer(value) }
        case .real:
            if let value = Self.double(cell) { return .real(value) }
        default: break
        }
        return .raw(start..<index)
    }

    /// A JSON number as a Double: exactly by `CellText.exactDouble` when it can, else by strtod
    /// from a NUL-terminated copy (nil if not all of it is a number).
    private static func double(_ cell: UnsafeBufferPointer<UInt8>) -> Double? {
        if let exact = CellText.exactDouble(cell) { return exact }
        guard !cell.isEmpty, cell.count < 64 else { return cell.isEmpty ? nil : Double(String(decoding: cell, as: UTF8.self)) }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { buffer in
            for i in 0..<cell.count { buffer[i] = CChar(bitPattern: cell[i]) }
            buffer[cell.count] = 0
            var stop: UnsafeMutablePointer<CChar>?
            let value = strtod(buffer.baseAddress!, &stop)
            return stop == buffer.baseAddress! + cell.count ? value : nil
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

/// JSON string bodies (the bytes between the quotes).
enum JSONStringBody {
    /// Appends the decoded UTF-8 bytes of `bytes[range]` to `out`; false if an escape is malformed.
    static func unescape(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, into out: inout [UInt8]) -> Bool {
        out.reserveCapacity(out.count + range.count)
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
            guard bytes[index] == UInt8(ascii: "\\") else {
                // Copy the run up to the next escape at once.
                var end = index + 1
                while end < range.upperBound, bytes[end] != UInt8(ascii: "\\") { end += 1 }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[index..<end]))
                index = end
                continue
            }
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
}
