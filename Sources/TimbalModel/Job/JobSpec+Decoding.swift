import TimbalSupport
extension JobSpec {
    /// Source kinds the platform knows; only `postgres` is implemented by this connector.
    public static let knownSourceKinds = ["postgres", "sql_server", "mysql"]

    /// Parses and validates a dispatch body. Unknown fields are ignored; JSON null means "default".
    public static func decode(json text: String) throws -> JobSpec {
        let document: JSONValue
        do {
            document = try JSONParser.parse(text)
        } catch let error as JSONParser.SyntaxError {
            throw JobSpecError(field: "job", problem: error.description)
        }
        return try decode(document)
    }

    public static func decode(_ document: JSONValue) throws -> JobSpec {
        let job = try FieldReader(document, path: "")
        let kbID = try job.integer("kb_id", min: 0, typeName: "an int64").unwrap(or: "kb_id")
        let destTable = try job.nonEmptyString("dest_table").unwrap(or: "dest_table")
        try validateDestTable(destTable)
        let source = try SourceSpec.decode(try job.required("source"))
        let batchRows = try job.integer("batch_rows", min: 0, max: Int64(Int32.max), typeName: "an int32") ?? 0
        // `"cursor": {}` (the platform's reference request sends it) means no cursor, like null.
        let cursor = try job.value("cursor").flatMap { value -> Checkpoint? in
            if case .object(let members) = value, members.isEmpty { return nil }
            return try Checkpoint.decode(value, field: "cursor")
        }
        let mode = try job.oneOf("mode", Mode.self, allowed: Mode.allCases) ?? .create
        let keyColumns = try job.identifierList("key_columns", allowEmpty: true) ?? []
        if mode == .upsert && keyColumns.isEmpty {
            throw JobSpecError(field: "key_columns", problem: "mode upsert needs at least one key column")
        }
        let pacing = try job.value("pacing").map { try Pacing.decode($0) } ?? Pacing()
        let placement = try job.oneOf("placement", Placement.self, allowed: Placement.allCases) ?? .hosted
        if cursor != nil && source.cursorColumn == nil {
            throw JobSpecError(field: "cursor", problem: "a resume cursor needs source.cursor_column")
        }
        var spec = JobSpec(
            kbID: kbID, destTable: destTable, source: source, requestedBatchRows: Int(batchRows),
            cursor: cursor, mode: mode, keyColumns: keyColumns, pacing: pacing, placement: placement)
        spec.deletes = try job.oneOf("deletes", DeletesChoice.self, allowed: DeletesChoice.allCases) ?? .keep
        return spec
    }

    static func validateDestTable(_ name: String) throws {
        let lowered = name.lowercased()
        if lowered.hasPrefix("_timbal_") || lowered.hasPrefix("sqlite_") {
            throw JobSpecError(field: "dest_table", problem: "names starting with \"_timbal_\" or \"sqlite_\" are reserved")
        }
        if name.utf8.contains(0) {
            throw JobSpecError(field: "dest_table", problem: "must not contain a NUL character")
        }
    }
}

extension SourceSpec {
    static func decode(_ value: JSONValue) throws -> SourceSpec {
        let source = try FieldReader(value, path: "source")
        let kind = try source.nonEmptyString("kind").unwrap(or: "source.kind")
        guard JobSpec.knownSourceKinds.contains(kind) else {
            let known = JobSpec.knownSourceKinds.joined(separator: ", ")
            throw JobSpecError(field: "source.kind", problem: "\"\(kind)\" is not one of \(known)")
        }
        let connectionRef = try source.nonEmptyString("connection_ref").unwrap(or: "source.connection_ref")
        let table = try source.nonEmptyString("table").unwrap(or: "source.table")
        let schema = try source.nonEmptyString("schema") ?? "public"
        let cursorColumn = try source.nonEmptyString("cursor_column")
        let columns = try source.identifierList("columns", allowEmpty: false)
        for (field, name) in [("source.table", table), ("source.schema", schema), ("source.cursor_column", cursorColumn ?? "")]
        where name.utf8.contains(0) {
            throw JobSpecError(field: field, problem: "must not contain a NUL character")
        }
        return SourceSpec(kind: kind, connectionRef: connectionRef, table: table, schema: schema,
                          cursorColumn: cursorColumn, columns: columns)
    }
}

extension Pacing {
    static func decode(_ value: JSONValue) throws -> Pacing {
        let pacing = try FieldReader(value, path: "pacing")
        let int32Max = Int64(Int32.max)
        return Pacing(
            maxRowsPerSec: Int(try pacing.integer("max_rows_per_sec", min: 0, max: int32Max, typeName: "an int32") ?? 0),
            batchDelayMs: try pacing.integer("batch_delay_ms", min: 0, typeName: "an int64") ?? 0,
            maxDop: Int(try pacing.integer("max_dop", min: 0, max: int32Max, typeName: "an int32") ?? 0),
            readUncommitted: try pacing.bool("read_uncommitted") ?? false)
    }
}

extension Optional {
    package func unwrap(or field: String) throws -> Wrapped {
        guard let value = self else { throw JobSpecError(field: field, problem: "is required") }
        return value
    }
}
