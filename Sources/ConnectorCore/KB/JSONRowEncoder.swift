import PostgresClient

/// Writes a batch's rows as JSON straight from libpq's buffers, without building a JSON tree: the
/// hosted path's hot loop. Cells follow the platform's convention (docs/protocol.md): numbers stay numbers, exact decimals and
/// timestamps are strings, binary is `0x` hex, arrays are JSON arrays, NULL is null.
/// Rows are written through a raw buffer of its own (`JSONBytes`), then appended to the caller's
/// array in one copy: appending to an Array cell by cell cost the connector a tenth of its time.
public final class JSONRowEncoder {
    public let kinds: [ColumnKind]
    private let timestamp = UnsafeMutablePointer<UInt8>.allocate(capacity: 32)
    private var scratch = JSONBytes()

    public init(kinds: [ColumnKind]) { self.kinds = kinds }

    deinit {
        timestamp.deallocate()
        scratch.deallocate()
    }

    /// Appends `[[cell, ...], ...]` for every row of the batch.
    public func appendRows(_ batch: RowBatch, to out: inout [UInt8]) {
        withRows(batch) { out.append(contentsOf: $0) }
    }

    /// Calls `body` with `[[cell, ...], ...]` for every row of the batch, valid during the call.
    public func withRows<R>(_ batch: RowBatch, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        scratch.count = 0
        scratch.byte(UInt8(ascii: "["))
        var first = true
        for result in batch.parts { writeRows(result, first: &first) }
        scratch.byte(UInt8(ascii: "]"))
        defer { scratch.shrink(above: 4 << 20) }  // a large batch's buffer is not kept for the next ones
        return try body(UnsafeBufferPointer(start: scratch.base, count: scratch.count))
    }

    /// Appends `[[cell, ...], ...]` for every row of `result`.
    public func appendRows(_ result: PostgresResult, to out: inout [UInt8]) {
        scratch.count = 0
        scratch.byte(UInt8(ascii: "["))
        var first = true
        writeRows(result, first: &first)
        scratch.byte(UInt8(ascii: "]"))
        scratch.append(to: &out)
    }

    /// Appends `[cell, ...]` for one row given as text (nil = NULL).
    public func appendRow(_ cells: [String?], to out: inout [UInt8]) {
        scratch.count = 0
        scratch.byte(UInt8(ascii: "["))
        for (column, kind) in kinds.enumerated() {
            if column > 0 { scratch.byte(UInt8(ascii: ",")) }
            guard var text = cells[column] else { scratch.ascii("null"); continue }
            text.withUTF8 { writeCell($0, kind: kind) }
        }
        scratch.byte(UInt8(ascii: "]"))
        scratch.append(to: &out)
    }

    private func writeRows(_ result: PostgresResult, first: inout Bool) {
        for row in 0..<result.rowCount {
            if !first { scratch.byte(UInt8(ascii: ",")) }
            first = false
            scratch.byte(UInt8(ascii: "["))
            for (column, kind) in kinds.enumerated() {
                if column > 0 { scratch.byte(UInt8(ascii: ",")) }
                guard let cell = result.bytes(row, column) else { scratch.ascii("null"); continue }
                writeCell(cell, kind: kind)
            }
            scratch.byte(UInt8(ascii: "]"))
        }
    }

    private func writeCell(_ cell: UnsafeBufferPointer<UInt8>, kind: ColumnKind) {
        switch kind {
        case .integer:
            if CellText.int64(cell) != nil { scratch.bytes(cell) } else { scratch.string(cell) }
        case .real:
            let first = cell.first ?? 0
            let numeric = (first >= 48 && first <= 57) || (first == UInt8(ascii: "-") && cell.count > 1 && cell[1] >= 48 && cell[1] <= 57)
            if numeric { scratch.bytes(cell) } else { scratch.string(cell) }
        case .boolean:
            scratch.ascii(cell.first == UInt8(ascii: "t") ? "true" : "false")
        case .bytea:
            if cell.count >= 2, cell[0] == UInt8(ascii: "\\"), cell[1] == UInt8(ascii: "x") {
                scratch.ascii("\"0x")
                scratch.bytes(UnsafeBufferPointer(rebasing: cell[2...]))
                scratch.byte(UInt8(ascii: "\""))
            } else {
                scratch.string(cell)
            }
        case .timestamp, .timestamptz:
            if let length = CellText.isoTimestamp(cell, withZone: kind == .timestamptz, into: timestamp) {
                scratch.string(UnsafeBufferPointer(start: timestamp, count: length))
            } else {
                scratch.string(cell)
            }
        case .array:
            scratch.bytes(cell)  // to_json's output is JSON already
        case .numeric, .text:
            scratch.string(cell)
        }
    }
}

/// A growing byte buffer written through a raw pointer (no uniqueness or capacity checks per
/// append beyond one comparison).
struct JSONBytes {
    private(set) var base: UnsafeMutablePointer<UInt8>
    var count = 0
    private var capacity: Int

    init(capacity: Int = 64 << 10) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }

    func deallocate() { base.deallocate() }

    @inline(__always)
    mutating func reserve(_ more: Int) {
        guard count + more > capacity else { return }
        var grown = capacity * 2
        while grown < count + more { grown *= 2 }
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: grown)
        bigger.update(from: base, count: count)
        base.deallocate()
        base = bigger
        capacity = grown
    }

    @inline(__always)
    mutating func byte(_ value: UInt8) {
        reserve(1)
        base[count] = value
        count += 1
    }

    @inline(__always)
    mutating func bytes(_ values: UnsafeBufferPointer<UInt8>) {
        guard let start = values.baseAddress, !values.isEmpty else { return }
        reserve(values.count)
        (base + count).update(from: start, count: values.count)
        count += values.count
    }

    mutating func ascii(_ text: StaticString) {
        text.withUTF8Buffer { bytes($0) }
    }

    /// `"…"` with quotes, backslashes and control characters escaped.
    mutating func string(_ value: UnsafeBufferPointer<UInt8>) {
        byte(UInt8(ascii: "\""))
        // In chunks, each with room for its worst case (every byte a \u00XX escape), so a large
        // cell never reserves six times its size.
        var from = 0
        while from < value.count {
            let to = min(value.count, from + 4096)
            reserve((to - from) * 6)
            var at = count
            for index in from..<to {
                let byte = value[index]
                if byte >= 0x20 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
                    base[at] = byte; at += 1
                    continue
                }
                base[at] = UInt8(ascii: "\\"); at += 1
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): base[at] = byte; at += 1
                case 0x0A: base[at] = UInt8(ascii: "n"); at += 1
                case 0x0D: base[at] = UInt8(ascii: "r"); at += 1
                case 0x09: base[at] = UInt8(ascii: "t"); at += 1
                default:
                    let hex: StaticString = "0123456789abcdef"
                    base[at] = UInt8(ascii: "u"); base[at + 1] = 48; base[at + 2] = 48
                    base[at + 3] = hex.utf8Start[Int(byte >> 4)]
                    base[at + 4] = hex.utf8Start[Int(byte & 0x0F)]
                    at += 5
                }
            }
            count = at
            from = to
        }
        byte(UInt8(ascii: "\""))
    }

    /// Gives back a buffer grown past `limit` (its contents are dropped).
    mutating func shrink(above limit: Int) {
        guard capacity > limit else { return }
        base.deallocate()
        capacity = 64 << 10
        base = .allocate(capacity: capacity)
        count = 0
    }

    func append(to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: base, count: count))
    }
}
