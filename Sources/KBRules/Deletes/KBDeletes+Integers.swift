import SQLiteStore
import TimbalSupport

/// The walk for a one-column integer key (the usual `id`): the rules of `KBDeletes.apply` on plain
/// `Int64`s, with the KB's keys read by one prepared statement per bound shape, so a pass over
/// millions of keys builds no `KBKey` per KB row.
struct IntegerKeyWalk {
    /// KB keys in [?1, ?2], ascending; and the same without an upper bound (the last range, where
    /// any KB value past the last source key must be met, a text one included, to be refused).
    private let bounded: SQLiteStatement
    private let open: SQLiteStatement
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
        self.table = table
        self.column = column
        self.soft = soft
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
}
