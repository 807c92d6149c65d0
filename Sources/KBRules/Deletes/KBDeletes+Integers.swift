import SQLiteStore
import TimbalSupport

/// The walk for a one-column integer key (the usual `id`): the rules of `KBDeletes.apply` on plain
/// `Int64`s, with the KB's keys read by one prepared statement per bound shape, so a pass over
/// millions of keys builds no `KBKey` per KB row.
///
/// For `hard`, a range whose source keys leave few gaps is not walked at all: the KB keys the
/// source lacks are exactly those between two consecutive source keys (or between a bound and
/// the nearest source key), so each gap is one `DELETE` of an integer range, a B-tree seek, and
/// the KB's rows the source has are never read. Dense keys (a `serial` id with a few rows
/// deleted) leave one gap per deleted run of ids; sparse ones (many gaps) are walked. Only where
/// the key is the table's rowid (`INTEGER PRIMARY KEY`, as the connector makes KB tables), which
/// can hold nothing but integers: in any other column a value of another type (a KB built by
/// hand) would sit in no gap, so those are walked, and the walk refuses such a value.
struct IntegerKeyWalk {
    /// KB keys in [?1, ?2], ascending; and the same without an upper bound (the last range, where
    /// any KB value past the last source key must be met, a text one included, to be refused).
    private let bounded: SQLiteStatement
    private let open: SQLiteStatement
    /// Removes the KB keys in the integer range [?1, ?2] (a gap between source keys).
    private let removeRange: SQLiteStatement
    /// A range is cleared gap by gap when it has at most one gap per this many source keys (a
    /// seek costs about what walking this many KB keys does), or one gap in all.
    static let keysPerGap = 8
    /// The key is the table's rowid, so every key is an integer (gaps are sound).
    let keyIsRowid: Bool
    private let table: String
    private let column: String
    /// Whether rows carry a mark to read (`soft`); `hard` reads the key alone.
    private let soft: Bool

    init(kb: KBFile, table: String, column: String, soft: Bool, chunk: Int) throws {
        let name = SQLIdentifier.quote(column)
        let marked = soft ? ", " + SQLIdentifier.quote(KBDeletes.markColumn) + " IS NOT NULL" : ""
        let select = "SELECT \(name)\(marked) FROM \(SQLIdentifier.quote(table)) WHERE \(name) >= ?1"
        bounded = try kb.database.prepare(select + " AND \(name) <= ?2 ORDER BY \(name) LIMIT \(chunk)")
        open = try kb.database.prepare(select + " ORDER BY \(name) LIMIT \(chunk)")
        removeRange = try kb.database.prepare("DELETE FROM \(SQLIdentifier.quote(table)) WHERE \(name) >= ?1 AND \(name) <= ?2")
        self.table = table
        self.column = column
        self.soft = soft
        let plan = try kb.database.rows("EXPLAIN QUERY PLAN SELECT 1 FROM \(SQLIdentifier.quote(table)) WHERE \(name) = 0")
        keyIsRowid = plan.contains { $0.last?.text?.contains("USING INTEGER PRIMARY KEY") == true }
    }

    /// The source's keys of a range as integers, checked ascending and inside (after, through].
    static func sourceKeys(_ present: [KBKey], after: Int64?, through: Int64?) throws -> [Int64] {
        var keys: [Int64] = []
        keys.reserveCapacity(present.count)
        for key in present {
            guard case .integer(let value) = key.first, key.rest.isEmpty else {
                throw KBError(field: "deletes", problem: "source key \(key) is not one integer, as the KB table's key is; no row was removed")
            }
            if let previous = keys.last {
                if value <= previous { throw KeyMergeWalk.OrderError(side: "source", previous: String(previous), next: String(value)) }
            } else if let after, value <= after {
                throw KBError(field: "deletes", problem: "source key \(key) lies outside the range it was sent with; no row was removed")
            }
            if let through, value > through {
                throw KBError(field: "deletes", problem: "source key \(key) lies outside the range it was sent with; no row was removed")
            }
            keys.append(value)
        }
        return keys
    }

    /// Up to the statement's chunk of KB keys from `from` (inclusive) to `through`, ascending, into
    /// `keys` and `marked` (cleared first).
    func chunk(from: Int64, through: Int64?, keys: inout [Int64], marked: inout [Bool]) throws {
        keys.removeAll(keepingCapacity: true)
        marked.removeAll(keepingCapacity: true)
        let statement = through == nil ? open : bounded
        defer { statement.reset() }
        try statement.bindInteger(from, at: 1)
        if let through { try statement.bindInteger(through, at: 2) }
        while try statement.step() {
            guard let key = statement.integer(at: 0) else {
                // A value the source could not have written: the orders may differ, so stop.
                throw KBError(field: "deletes", problem: "KB table \"\(table.forMessage)\" holds \(statement.value(at: 0)) in key column \"\(column.forMessage)\", not the integer the source's key has; no row was removed")
            }
            keys.append(key)
            marked.append(soft && statement.integer(at: 1) == 1)
        }
    }

    /// The integer ranges, inclusive, that hold the keys in (after, through] that `source` (ascending,
    /// inside the range) lacks; nil when there are more than `limit`.
    static func gaps(in source: [Int64], after: Int64?, through: Int64?, limit: Int) -> [ClosedRange<Int64>]? {
        var gaps: [ClosedRange<Int64>] = []
        // The first key a gap may hold, or nil past Int64.max.
        var next: Int64? = after.map { $0 == .max ? nil : $0 + 1 } ?? .min
        for key in source {
            if let low = next, low < key {
                gaps.append(low...(key - 1))
                if gaps.count > limit { return nil }
            }
            next = key == .max ? nil : key + 1
        }
        if let low = next, low <= (through ?? .max) {
            gaps.append(low...(through ?? .max))
            if gaps.count > limit { return nil }
        }
        return gaps
    }

    /// Removes every KB row whose key lies in `gap`; returns how many.
    func remove(_ gap: ClosedRange<Int64>, in kb: KBFile) throws -> Int64 {
        try removeRange.bindInteger(gap.lowerBound, at: 1)
        try removeRange.bindInteger(gap.upperBound, at: 2)
        try removeRange.run()
        return Int64(kb.database.changes)
    }
}
