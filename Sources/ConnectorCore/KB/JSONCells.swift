import PostgresClient

/// Cells as plain JSON (CONTRACT.md section 3): numbers stay numbers, exact decimals and timestamps
/// are strings, binary is `0x` hex, arrays are JSON arrays, NULL is null.
public enum JSONCells {
    public static func row(_ result: PostgresResult, _ row: Int, kinds: [ColumnKind]) -> [JSONValue] {
        var cells: [JSONValue] = []
        cells.reserveCapacity(kinds.count)
        let timestamp = UnsafeMutablePointer<UInt8>.allocate(capacity: 32)
        defer { timestamp.deallocate() }
        for (column, kind) in kinds.enumerated() {
            guard let cell = result.bytes(row, column) else { cells.append(.null); continue }
            let text = String(decoding: cell, as: UTF8.self)
            switch kind {
            case .integer:
                cells.append(CellText.int64(cell) != nil ? .number(text) : .string(text))
            case .real:
                cells.append(isJSONNumber(text) ? .number(text) : .string(text))
            case .boolean:
                cells.append(.bool(cell.first == UInt8(ascii: "t")))
            case .bytea:
                cells.append(.string(text.hasPrefix("\\x") ? "0x" + text.dropFirst(2) : text))
            case .timestamp, .timestamptz:
                if let length = CellText.isoTimestamp(cell, withZone: kind == .timestamptz, into: timestamp) {
                    cells.append(.string(String(decoding: UnsafeBufferPointer(start: timestamp, count: length), as: UTF8.self)))
                } else {
                    cells.append(.string(text))
                }
            case .array:
                cells.append((try? JSONParser.parse(text)) ?? .string(text))
            case .numeric, .text:
                cells.append(.string(text))
            }
        }
        return cells
    }

    /// Postgres prints floats as JSON-compatible numbers except NaN and ±Infinity.
    static func isJSONNumber(_ text: String) -> Bool {
        guard let first = text.first else { return false }
        return first == "-" ? text.dropFirst().first?.isNumber == true : first.isNumber
    }
}
