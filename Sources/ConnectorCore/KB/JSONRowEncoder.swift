import PostgresClient

/// Writes a batch's rows as JSON straight from libpq's buffers, without building a JSON tree: the
/// hosted path's hot loop. Cells follow the platform's convention (docs/protocol.md): numbers stay numbers, exact decimals and
/// timestamps are strings, binary is `0x` hex, arrays are JSON arrays, NULL is null.
public struct JSONRowEncoder {
    public let kinds: [ColumnKind]
    private let timestamp = UnsafeMutablePointer<UInt8>.allocate(capacity: 32)

    public init(kinds: [ColumnKind]) { self.kinds = kinds }

    public func deallocate() { timestamp.deallocate() }

    /// Appends `[[cell, ...], ...]` for every row of the batch.
    public func appendRows(_ batch: RowBatch, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        var first = true
        for result in batch.parts { appendRows(result, first: &first, to: &out) }
        out.append(UInt8(ascii: "]"))
    }

    /// Appends `[[cell, ...], ...]` for every row of `result`.
    public func appendRows(_ result: PostgresResult, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        var first = true
        appendRows(result, first: &first, to: &out)
        out.append(UInt8(ascii: "]"))
    }

    private func appendRows(_ result: PostgresResult, first: inout Bool, to out: inout [UInt8]) {
        for row in 0..<result.rowCount {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            out.append(UInt8(ascii: "["))
            for (column, kind) in kinds.enumerated() {
                if column > 0 { out.append(UInt8(ascii: ",")) }
                guard let cell = result.bytes(row, column) else { out.append(contentsOf: "null".utf8); continue }
                appendCell(cell, kind: kind, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
    }

    /// Appends `[cell, ...]` for one row given as text (nil = NULL).
    public func appendRow(_ cells: [String?], to out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        for (column, kind) in kinds.enumerated() {
            if column > 0 { out.append(UInt8(ascii: ",")) }
            guard var text = cells[column] else { out.append(contentsOf: "null".utf8); continue }
            text.withUTF8 { appendCell($0, kind: kind, to: &out) }
        }
        out.append(UInt8(ascii: "]"))
    }

    private func appendCell(_ cell: UnsafeBufferPointer<UInt8>, kind: ColumnKind, to out: inout [UInt8]) {
        switch kind {
        case .integer:
            if CellText.int64(cell) != nil { out.append(contentsOf: cell) } else { Self.appendString(cell, to: &out) }
        case .real:
            let first = cell.first ?? 0
            let numeric = (first >= 48 && first <= 57) || (first == UInt8(ascii: "-") && cell.count > 1 && cell[1] >= 48 && cell[1] <= 57)
            if numeric { out.append(contentsOf: cell) } else { Self.appendString(cell, to: &out) }
        case .boolean:
            out.append(contentsOf: cell.first == UInt8(ascii: "t") ? "true".utf8 : "false".utf8)
        case .bytea:
            if cell.count >= 2, cell[0] == UInt8(ascii: "\\"), cell[1] == UInt8(ascii: "x") {
                out.append(contentsOf: "\"0x".utf8)
                out.append(contentsOf: UnsafeBufferPointer(rebasing: cell[2...]))
                out.append(UInt8(ascii: "\""))
            } else {
                Self.appendString(cell, to: &out)
            }
        case .timestamp, .timestamptz:
            if let length = CellText.isoTimestamp(cell, withZone: kind == .timestamptz, into: timestamp) {
                Self.appendString(UnsafeBufferPointer(start: timestamp, count: length), to: &out)
            } else {
                Self.appendString(cell, to: &out)
            }
        case .array:
            out.append(contentsOf: cell)  // to_json's output is JSON already
        case .numeric, .text:
            Self.appendString(cell, to: &out)
        }
    }

    /// A JSON string literal of UTF-8 bytes: quotes, backslashes and control characters escaped.
    static func appendString(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var runStart = 0
        for index in 0..<bytes.count {
            let byte = bytes[index]
            guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
            if index > runStart { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index])) }
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: "\\\"".utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: "\\\\".utf8)
            case 0x0A: out.append(contentsOf: "\\n".utf8)
            case 0x0D: out.append(contentsOf: "\\r".utf8)
            case 0x09: out.append(contentsOf: "\\t".utf8)
            default:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: "\\u00".utf8)
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            }
            runStart = index + 1
        }
        if runStart < bytes.count { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart...])) }
        out.append(UInt8(ascii: "\""))
    }
}
