import PostgresClient
import SQLiteStore

/// Lands batches in a local KB through the shared `KBRowWriter` (rows merged by key, checkpoint in
/// the same transaction), binding cells straight from libpq's result buffers.
final class KBBatchWriter {
    private let writer: KBRowWriter
    private let kinds: [ColumnKind]
    private var blob: [UInt8] = []
    private let timestamp = UnsafeMutablePointer<UInt8>.allocate(capacity: 32)

    init(kb: LocalKB, target: KBTarget, plan: ExtractPlan, jobID: String) throws {
        kinds = plan.projection.map(\.kind)
        writer = try KBRowWriter(kb: kb.file, target: target, columns: plan.projection.map(\.name), jobID: jobID)
    }

    deinit { timestamp.deallocate() }

    /// Inserts (or merges) the batch's rows and records `checkpoint`, atomically; returns how
    /// many rows replaced an earlier version of themselves.
    @discardableResult
    func land(_ batch: RowBatch, checkpoint: Checkpoint?) throws -> Int {
        try writer.land(checkpoint: checkpoint.map { $0.json.serialized() }) { writer in
            for result in batch.parts {
                for row in 0..<result.rowCount {
                    try writer.row { statement in try self.bindRow(result, row, into: statement) }
                }
            }
            return batch.rowCount
        }
    }

    /// Whether batches can be staged and written in key order (the table has a key).
    var canStage: Bool { writer.isKeyed }

    /// Rows staged and not yet written.
    var stagedRows: Int { writer.stagedRows }

    /// Stages the batch's rows, to be written in key order by `flush`.
    func stage(_ batch: RowBatch) throws {
        _ = try writer.stage { writer in
            for result in batch.parts {
                for row in 0..<result.rowCount {
                    try writer.row { statement in try self.bindRow(result, row, into: statement) }
                }
            }
            return batch.rowCount
        }
    }

    /// Writes the staged rows in key order with `checkpoint`, one transaction for `batches` batches.
    func flush(checkpoint: Checkpoint?, batches: Int) throws -> Int {
        try writer.flushStaged(checkpoint: checkpoint.map { $0.json.serialized() }, batches: batches)
    }

    private func bindRow(_ result: PostgresResult, _ row: Int, into insert: SQLiteStatement) throws {
        for (column, kind) in kinds.enumerated() {
            let index = column + 1
            guard let cell = result.bytes(row, column) else {
                try insert.bindNull(at: index)
                continue
            }
            switch kind {
            case .integer:
                if let value = CellText.int64(cell) { try insert.bindInteger(value, at: index) }
                else { try insert.bindTextNoCopy(cell, at: index) }
            case .boolean:
                try insert.bindInteger(cell.first == UInt8(ascii: "t") ? 1 : 0, at: index)
            case .real:
                // libpq's cells are NUL-terminated, so strtod can read them in place.
                let value = CellText.exactDouble(cell)
                    ?? strtod(UnsafeRawPointer(cell.baseAddress!).assumingMemoryBound(to: CChar.self), nil)
                if value.isNaN { try insert.bindTextNoCopy(cell, at: index) } else { try insert.bindReal(value, at: index) }
            case .bytea:
                if CellText.byteaHex(cell, into: &blob) {
                    try blob.withUnsafeBytes { try insert.bindBlob($0, at: index) }
                } else {
                    try insert.bindTextNoCopy(cell, at: index)
                }
            case .timestamp, .timestamptz:
                if let length = CellText.isoTimestamp(cell, withZone: kind == .timestamptz, into: timestamp) {
                    try insert.bindTextCopy(UnsafeBufferPointer(start: timestamp, count: length), at: index)
                } else {
                    try insert.bindTextNoCopy(cell, at: index)
                }
            case .numeric, .array, .text:
                try insert.bindTextNoCopy(cell, at: index)
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
