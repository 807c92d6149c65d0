import TimbalSupport
/// A resume position: the contract's `{"kind": ..., "value": ...}` cursor, extended with the
/// tie-breaker and the pass it belongs to. Values are Postgres's own text forms, so they
/// round-trip exactly (microseconds and zone for timestamps, every digit of a numeric).
public struct Checkpoint: Sendable, Equatable {
    /// One column of the keyset with its text value.
    public struct KeyValue: Sendable, Equatable {
        public var column: String
        public var value: String
        public init(column: String, value: String) {
            self.column = column
            self.value = value
        }
    }

    /// The cursor's type family, one of `kinds`.
    public var kind: String
    /// The cursor column, so a checkpoint is never applied to another column.
    public var column: String?
    /// The last landed cursor value; nil while the pass over NULL-cursor rows is still running.
    public var value: String?
    /// The last landed tie-breaker (primary key) values, in key order.
    public var tiebreaker: [KeyValue]
    /// True while extracting the rows whose cursor is NULL (the first pass of an initial extract).
    public var nullCursorPass: Bool
    /// Where the next incremental run must reach back to: the start of the oldest transaction
    /// that was still writing when a segment took its snapshot (time cursors; see InFlightWriters).
    public var rereadFrom: String? = nil
    /// The source table's storage (`pg_class.relfilenode`) when this checkpoint was read: a
    /// different one on the next run means the table was rewritten meanwhile (TRUNCATE, ...).
    public var sourceFilenode: String? = nil
    /// Set while a first load reads the table in key order (see `keyPassKeys`): the last key it
    /// landed (empty before its first batch). `value` is then the cursor's high-water mark taken
    /// before the load began (nil: no row had a cursor value), where the cursor catch-up that
    /// follows the load starts (inclusive).
    public var keyPass: [KeyValue]? = nil

    public init(kind: String, column: String?, value: String?, tiebreaker: [KeyValue] = [], nullCursorPass: Bool = false) {
        self.kind = kind
        self.column = column
        self.value = value
        self.tiebreaker = tiebreaker
        self.nullCursorPass = nullCursorPass
    }

    public var json: JSONValue {
        var members: [(String, JSONValue)] = [("kind", .string(kind))]
        members.append(("value", value.map(JSONValue.string) ?? .null))
        if let column { members.append(("column", .string(column))) }
        if !tiebreaker.isEmpty {
            members.append(("tiebreaker", .array(tiebreaker.map {
                .object([("column", .string($0.column)), ("value", .string($0.value))])
            })))
        }
        if nullCursorPass { members.append(("null_cursor_pass", .bool(true))) }
        if let rereadFrom { members.append(("reread_from", .string(rereadFrom))) }
        if let sourceFilenode { members.append(("source_filenode", .string(sourceFilenode))) }
        if let keyPass {
            members.append(("key_pass", .array(keyPass.map { .object([("column", .string($0.column)), ("value", .string($0.value))]) })))
        }
        return .object(members)
    }

    /// Every cursor kind a checkpoint may name: a type family of the cursor column, `snapshot`
    /// (a pass without a cursor, by key), `other` (an orderable type outside these families).
    public static let kinds = ["integer", "numeric", "float4", "float8", "text", "uuid", "date", "time", "timetz",
                               "timestamp", "timestamptz", "interval", "bool", "bytea", "snapshot", "other"]

    /// Kinds that stand for one another (the platform's own examples say `timestamp` for any time).
    public static func kind(_ given: String, fits expected: String) -> Bool {
        let families: [Set<String>] = [["date", "timestamp", "timestamptz"], ["integer", "numeric", "float4", "float8"]]
        return given == expected || families.contains { $0.contains(given) && $0.contains(expected) }
    }

    public static func decode(_ value: JSONValue, field: String) throws -> Checkpoint {
        let cursor = try FieldReader(value, path: field)
        let kind = try cursor.nonEmptyString("kind").unwrap(or: "\(field).kind")
        guard Self.kinds.contains(kind) else {
            throw JobSpecError(field: "\(field).kind", problem: "\"\(kind)\" is not a cursor kind; expected one of \(Self.kinds.joined(separator: ", "))")
        }
        let nullPass = try cursor.bool("null_cursor_pass") ?? false
        let text: String?
        switch cursor.value("value") {
        case .string(let s)?: text = s
        case .number(let n)?: text = n
        case nil: text = nil
        case let other?:
            throw JobSpecError(field: "\(field).value", problem: "expected a string or a number, got \(other.typeName)")
        }
        let keyPass = try cursor.value("key_pass").map { try keyValues($0, field: "\(field).key_pass") }
        if text == nil && !nullPass && kind != "snapshot" && keyPass == nil { throw JobSpecError(field: "\(field).value", problem: "is required") }
        let column = try cursor.nonEmptyString("column")
        let tiebreaker = try cursor.value("tiebreaker").map { try keyValues($0, field: "\(field).tiebreaker") } ?? []
        var checkpoint = Checkpoint(kind: kind, column: column, value: text, tiebreaker: tiebreaker, nullCursorPass: nullPass)
        checkpoint.rereadFrom = try cursor.nonEmptyString("reread_from")
        checkpoint.sourceFilenode = try cursor.nonEmptyString("source_filenode")
        checkpoint.keyPass = keyPass
        if keyPass != nil && (nullPass || !tiebreaker.isEmpty) {
            throw JobSpecError(field: "\(field).key_pass", problem: "a first load by key has no tiebreaker and no NULL pass")
        }
        return checkpoint
    }

    /// `[{"column": ..., "value": ...}, ...]`: values as strings or numbers.
    private static func keyValues(_ list: JSONValue, field: String) throws -> [KeyValue] {
        var values: [KeyValue] = []
        guard case .array(let items) = list else {
            throw JobSpecError(field: field, problem: "expected an array, got \(list.typeName)")
        }
        for (index, item) in items.enumerated() {
            let path = "\(field)[\(index)]"
            let entry = try FieldReader(item, path: path)
            let name = try entry.nonEmptyString("column").unwrap(or: "\(path).column")
            let entryValue: String
            switch entry.value("value") {
            case .string(let s)?: entryValue = s
            case .number(let n)?: entryValue = n
            default: throw JobSpecError(field: "\(path).value", problem: "expected a string or a number")
            }
            values.append(KeyValue(column: name, value: entryValue))
        }
        return values
    }

    public static func decode(json text: String, field: String) throws -> Checkpoint {
        try decode(try JSONParser.parse(text), field: field)
    }

    /// For progress lines: the cursor value (and tie-breaker) in a few words.
    public var summary: String {
        let tie = tiebreaker.isEmpty ? "" : " (" + tiebreaker.map { "\($0.column)=\($0.value)" }.joined(separator: ", ") + ")"
        if nullCursorPass { return "NULL \(column ?? "cursor") rows\(tie)" }
        if let keyPass {
            let key = keyPass.isEmpty ? "start" : keyPass.map { "\($0.column)=\($0.value)" }.joined(separator: ", ")
            return "first load by key at \(key), then \(column ?? "cursor") from \(value ?? "start")"
        }
        return (value ?? "start") + tie
    }
}
