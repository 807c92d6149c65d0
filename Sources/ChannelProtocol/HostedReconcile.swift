import TimbalModel

/// One slice of a hosted job's delete reconciliation (this project's extension, `extract:deletes`),
/// carried by a `batch` with no rows in its `reconcile` member: every source key in the range
/// (`after` exclusive, nil = from the first key; `through` inclusive, nil = past the last), so
/// the plane removes or marks the KB keys in that range the slice lacks. Key values travel as
/// strings (an integer's decimal text, a text key as itself), one per key column, in the order of
/// the batch's `key_columns`; `key_kinds` says how each is stored (`integer` or `text`). It rides
/// the batch sequence, so it is acknowledged, resent after a reconnect and applied once per seq
/// (and applying it twice would change nothing).
public struct HostedReconcile: Equatable, Sendable {
    /// `hard` or `soft`.
    public var deletes: String
    public var keyKinds: [String]
    public var after: [String]?
    public var through: [String]?
    public var keys: [[String]]

    public init(deletes: String, keyKinds: [String], after: [String]?, through: [String]?, keys: [[String]]) {
        self.deletes = deletes
        self.keyKinds = keyKinds
        self.after = after
        self.through = through
        self.keys = keys
    }

    public var json: JSONValue {
        func key(_ values: [String]) -> JSONValue { .array(values.map(JSONValue.string)) }
        return .object([
            ("deletes", .string(deletes)), ("key_kinds", .array(keyKinds.map(JSONValue.string))),
            ("after", after.map(key) ?? .null), ("through", through.map(key) ?? .null),
            ("keys", .array(keys.map(key))),
        ])
    }

    /// Decodes the member; every key must have one value per key kind.
    public static func decode(_ value: JSONValue) throws -> HostedReconcile {
        let r = Reader(value)
        let kinds = try r.strings("key_kinds")
        func key(_ value: JSONValue, _ field: String) throws -> [String] {
            guard case .array(let items) = value, items.count == kinds.count else {
                throw r.fail("reconcile.\(field)", "expected an array of \(kinds.count) strings")
            }
            return try items.map {
                guard case .string(let text) = $0 else { throw r.fail("reconcile.\(field)", "expected strings") }
                return text
            }
        }
        guard case .array(let keys)? = value["keys"] else { throw r.fail("reconcile.keys", "expected an array") }
        return HostedReconcile(
            deletes: try r.string("deletes"), keyKinds: kinds,
            after: try r.optional("after").map { try key($0, "after") },
            through: try r.optional("through").map { try key($0, "through") },
            keys: try keys.map { try key($0, "keys") })
    }
}
