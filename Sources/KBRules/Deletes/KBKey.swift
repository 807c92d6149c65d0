/// One value of a key column, as the KB stores it and as SQLite orders it: integers before text,
/// text compared byte by byte (SQLite's BINARY collation; Postgres's `COLLATE "C"`).
public enum KBKeyValue: Sendable, Hashable, Comparable, CustomStringConvertible {
    case integer(Int64)
    /// UTF-8 bytes.
    case text([UInt8])

    public static func < (lhs: KBKeyValue, rhs: KBKeyValue) -> Bool {
        switch (lhs, rhs) {
        case (.integer(let a), .integer(let b)): return a < b
        case (.integer, .text): return true
        case (.text, .integer): return false
        // Swift's String order is not byte order; the bytes are compared as SQLite does (memcmp).
        case (.text(let a), .text(let b)): return a.lexicographicallyPrecedes(b)
        }
    }

    /// The value as text, e.g. to bind it as a Postgres parameter.
    public var text: String {
        switch self {
        case .integer(let value): return String(value)
        case .text(let bytes): return String(decoding: bytes, as: UTF8.self)
        }
    }

    public var description: String { text }
}

/// A KB row's key (one value per key column), ordered column by column like SQLite's
/// `ORDER BY k1, k2` and its row-value comparisons. The first value is kept apart so a
/// one-column integer key costs no allocation (a pass walks millions of them).
public struct KBKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let first: KBKeyValue
    public let rest: [KBKeyValue]

    public init(_ values: [KBKeyValue]) {
        precondition(!values.isEmpty, "a key has at least one column")
        first = values[0]
        rest = Array(values.dropFirst())
    }

    public init(first: KBKeyValue, rest: [KBKeyValue] = []) {
        self.first = first
        self.rest = rest
    }

    public var values: [KBKeyValue] { [first] + rest }

    public static func < (lhs: KBKey, rhs: KBKey) -> Bool {
        if lhs.first != rhs.first { return lhs.first < rhs.first }
        return lhs.rest.lexicographicallyPrecedes(rhs.rest)
    }

    public var description: String { "(" + values.map(\.text).joined(separator: ", ") + ")" }
}

/// How a key column is stored in the KB, which decides how it is ordered.
public enum KBKeyKind: String, Sendable, CaseIterable {
    /// SQLite INTEGER (the source's int2, int4, int8).
    case integer
    /// SQLite TEXT compared as bytes (the source's text, varchar, uuid).
    case text
}

/// The source range one reconciliation step covers: keys after `after` (exclusive; nil = from the
/// first key) up to `through` (inclusive; nil = past the last key). Every KB key in it that the
/// source did not list is missing at the source.
public struct KBKeyRange: Sendable, Equatable, CustomStringConvertible {
    public var after: KBKey?
    public var through: KBKey?

    public init(after: KBKey?, through: KBKey?) {
        self.after = after
        self.through = through
    }

    public func contains(_ key: KBKey) -> Bool {
        if let after, !(after < key) { return false }
        if let through, through < key { return false }
        return true
    }

    public var description: String { "(\(after?.description ?? "start"), \(through?.description ?? "end")]" }
}
