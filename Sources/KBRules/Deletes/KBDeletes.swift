import SQLiteStore
import TimbalSupport

/// Applies reconciled key ranges to one KB table: one implementation for both placements (the
/// local KB, the plane's hosted KB). For each range it walks the table's keys in the range beside
/// the source's (`KeyMergeWalk`) and removes (`hard`) or marks (`soft`) those the source lacks;
/// in `soft`, a marked key the source has again loses its mark. One transaction per range, so a
/// range is applied whole or not at all, and applying it again changes nothing.
public final class KBDeletes {
    /// The column `soft` marks: when the source's row was found gone (UTC, microseconds).
    public static let markColumn = "_timbal_deleted_at"
    /// KB keys read per query while walking a range (bounds memory when a range holds many).
    public static let chunk = 4096

    private let kb: KBFile
    private let table: String
    private let keyColumns: [String]
    private let kinds: [KBKeyKind]
    private let soft: Bool
    private let remove: SQLiteStatement
    private let mark: SQLiteStatement?
    private let unmark: SQLiteStatement?
    /// The walk for a one-column integer key (nil for other keys).
    private let integers: IntegerKeyWalk?

    /// `keyColumns` are the table's key (what rows merge on), `kinds` how each is stored.
    public init(kb: KBFile, table: String, keyColumns: [String], kinds: [KBKeyKind], soft: Bool) throws {
        guard !keyColumns.isEmpty, keyColumns.count == kinds.count else {
            throw KBError(field: "deletes", problem: "KB table \"\(table.forMessage)\" has no key to match source rows on; deletes need one")
        }
        self.kb = kb
        self.table = table
        self.keyColumns = keyColumns
        self.kinds = kinds
        self.soft = soft
        let quoted = SQLIdentifier.quote(table)
        let match = keyColumns.enumerated().map { "\(SQLIdentifier.quote($0.element)) = ?\($0.offset + 2)" }.joined(separator: " AND ")
        let column = SQLIdentifier.quote(Self.markColumn)
        // Every statement takes the key at ?2...; ?1 is the mark's time (NULL where unused), so
        // one binding routine serves all three.
        remove = try kb.database.prepare("DELETE FROM \(quoted) WHERE ?1 IS NULL AND \(match)")
        mark = soft ? try kb.database.prepare("UPDATE \(quoted) SET \(column) = ?1 WHERE \(column) IS NULL AND \(match)") : nil
        unmark = soft ? try kb.database.prepare("UPDATE \(quoted) SET \(column) = NULL WHERE ?1 IS NULL AND \(match)") : nil
        integers = kinds == [.integer] ? try IntegerKeyWalk(kb: kb, table: table, column: keyColumns[0], soft: soft, chunk: Self.chunk) : nil
    }

    /// Applies one range: KB keys in `range` that `present` (the source's keys in it, ascending)
    /// lacks are removed or marked. Returns how many rows were removed or newly marked.
    /// `inTransaction` runs in the same transaction (the plane records the batch's seq there).
    @discardableResult
    public func apply(range: KBKeyRange, present: [KBKey], inTransaction: () throws -> Void = {}) throws -> Int64 {
        // One look at each key: its arity, and that it lies in the range it was sent with.
        let arity = keyColumns.count
        for bound in [range.after, range.through] {
            if let bound, bound.rest.count + 1 != arity {
                throw KBError(field: "deletes", problem: "key \(bound) has \(bound.rest.count + 1) values for a key of \(arity) columns; no row was removed")
            }
        }
        for key in present {
            if key.rest.count + 1 != arity {
                throw KBError(field: "deletes", problem: "key \(key) has \(key.rest.count + 1) values for a key of \(arity) columns; no row was removed")
            }
            if !range.contains(key) {
                throw KBError(field: "deletes", problem: "source key \(key) lies outside the range \(range) it was sent with; no row was removed")
            }
        }
        if let integers { return try apply(integers, range: range, present: present, inTransaction: inTransaction) }
        var walk = try KeyMergeWalk(source: present)
        let now = Self.markTimestamp()
        return try kb.database.transaction {
            var changed: Int64 = 0
            var from = range.after
            while true {
                let chunk = try keys(after: from, through: range.through)
                for (key, marked) in chunk {
                    if try walk.sourceHas(key) {
                        if marked, let unmark { try run(unmark, .null, key) }
                    } else if let mark {
                        if !marked { try run(mark, .text(now), key); changed += Int64(kb.database.changes) }
                    } else {
                        try run(remove, .null, key)
                        changed += Int64(kb.database.changes)
                    }
                }
                guard chunk.count == Self.chunk, let last = chunk.last?.key else {
                    try inTransaction()
                    return changed
                }
                from = last
            }
        }
    }

    /// `apply` for a one-column integer key: the same walk on `Int64`s.
    private func apply(_ walk: IntegerKeyWalk, range: KBKeyRange, present: [KBKey], inTransaction: () throws -> Void) throws -> Int64 {
        func bound(_ key: KBKey?) throws -> Int64? {
            guard let key else { return nil }
            guard case .integer(let value) = key.first else {
                throw KBError(field: "deletes", problem: "key \(key) is not an integer, as the KB table's key is; no row was removed")
            }
            return value
        }
        let after = try bound(range.after), through = try bound(range.through)
        let source = try IntegerKeyWalk.sourceKeys(present, after: after, through: through)
        if !soft, walk.keyIsRowid, let gaps = IntegerKeyWalk.gaps(in: source, after: after, through: through,
                                                 limit: max(1, source.count / IntegerKeyWalk.keysPerGap)) {
            return try kb.database.transaction {
                var removed: Int64 = 0
                for gap in gaps { removed += try walk.remove(gap, in: kb) }
                try inTransaction()
                return removed
            }
        }
        let now = Self.markTimestamp()
        return try kb.database.transaction {
            var changed: Int64 = 0
            var index = 0
            var keys: [Int64] = [], marked: [Bool] = []
            keys.reserveCapacity(Self.chunk)
            marked.reserveCapacity(Self.chunk)
            // (A range after the largest integer holds no key.)
            var from = after.map { $0 == .max ? nil : $0 + 1 } ?? .min
            while let start = from {
                try walk.chunk(from: start, through: through, keys: &keys, marked: &marked)
                for (position, key) in keys.enumerated() {
                    while index < source.count, source[index] < key { index += 1 }
                    if index < source.count, source[index] == key {
                        if marked[position], let unmark { try runInteger(unmark, .null, key) }
                    } else if let mark {
                        if !marked[position] { try runInteger(mark, .text(now), key); changed += Int64(kb.database.changes) }
                    } else {
                        try runInteger(remove, .null, key)
                        changed += Int64(kb.database.changes)
                    }
                }
                guard keys.count == Self.chunk, let last = keys.last, last != .max else { break }
                from = last + 1
            }
            try inTransaction()
            return changed
        }
    }

    private func runInteger(_ statement: SQLiteStatement, _ first: SQLiteValue, _ key: Int64) throws {
        try statement.bind(first, at: 1)
        try statement.bindInteger(key, at: 2)
        try statement.run()
    }

    private func run(_ statement: SQLiteStatement, _ first: SQLiteValue, _ key: KBKey) throws {
        try statement.bind(first, at: 1)
        try bind(key.first, at: 2, into: statement)
        for (index, value) in key.rest.enumerated() { try bind(value, at: index + 3, into: statement) }
        try statement.run()
    }

    private func bind(_ value: KBKeyValue, at index: Int, into statement: SQLiteStatement) throws {
        switch value {
        case .integer(let number): try statement.bindInteger(number, at: index)
        case .text(let bytes): try bytes.withUnsafeBufferPointer { try statement.bindTextCopy($0, at: index) }
        }
    }

    /// Up to `chunk` KB keys in (after, through], ascending, each with whether it is marked.
    /// Rows with a NULL key column are never matched at the source, so never touched.
    private func keys(after: KBKey?, through: KBKey?) throws -> [(key: KBKey, marked: Bool)] {
        let names = keyColumns.map { SQLIdentifier.quote($0) }
        let tuple = names.count == 1 ? names[0] : "(" + names.joined(separator: ", ") + ")"
        let placeholders = { (start: Int) -> String in
            let list = (0..<names.count).map { "?\(start + $0)" }
            return list.count == 1 ? list[0] : "(" + list.joined(separator: ", ") + ")"
        }
        var conditions = names.map { "\($0) IS NOT NULL" }
        var bounds: [KBKey] = []
        if let after { conditions.append("\(tuple) > \(placeholders(1 + bounds.count * names.count))"); bounds.append(after) }
        if let through { conditions.append("\(tuple) <= \(placeholders(1 + bounds.count * names.count))"); bounds.append(through) }
        let marked = soft ? SQLIdentifier.quote(Self.markColumn) + " IS NOT NULL" : "0"
        let sql = "SELECT \(names.joined(separator: ", ")), \(marked) FROM \(SQLIdentifier.quote(table)) WHERE "
            + conditions.joined(separator: " AND ") + " ORDER BY \(names.joined(separator: ", ")) LIMIT \(Self.chunk)"
        let statement = try kb.database.prepare(sql)
        var position = 1
        for bound in bounds {
            for value in bound.values { try bind(value, at: position, into: statement); position += 1 }
        }
        var rows: [(key: KBKey, marked: Bool)] = []
        func value(_ column: Int) throws -> KBKeyValue {
            if kinds[column] == .integer, let number = statement.integer(at: column) { return .integer(number) }
            switch (kinds[column], statement.value(at: column)) {
            case (.integer, .integer(let number)): return .integer(number)
            case (.text, .text(let text)): return .text(Array(text.utf8))
            case (let kind, let other):
                // A value the source could not have written: the orders may differ, so stop.
                throw KBError(field: "deletes", problem: "KB table \"\(table.forMessage)\" holds \(other) in key column \"\(keyColumns[column].forMessage)\", not the \(kind.rawValue) the source's key has; no row was removed")
            }
        }
        while try statement.step() {
            let first = try value(0)
            let rest = names.count == 1 ? [] : try (1..<names.count).map(value)
            rows.append((KBKey(first: first, rest: rest), statement.integer(at: names.count) == 1))
        }
        return rows
    }

    /// Now in UTC with microseconds, `YYYY-MM-DDTHH:MM:SS.ffffffZ` (the KB's timestamptz form).
    public static func markTimestamp() -> String { utcTimestampMicroseconds() }
}
