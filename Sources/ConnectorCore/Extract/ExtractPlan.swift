/// A job resolved against the source catalog: what to select, how to page, what to write.
public struct ExtractPlan: Sendable {
    public let table: SourceTable
    /// Columns written to the KB, in order (the projection plus any key columns it lacked).
    public let projection: [SourceColumn]
    /// The cursor column, or nil for a snapshot pass (paged by primary key).
    public let cursor: SourceColumn?
    /// Primary-key columns that break ties between equal cursor values (empty if the cursor is unique).
    public let tiebreaker: [SourceColumn]
    /// The KB table's key: `key_columns`, else the source's primary (or sound unique) key. A row
    /// read again (it moved ahead of the cursor, or a lookback re-read it) replaces its earlier
    /// version by this key. Empty = a keyless table: re-read rows land twice.
    public let mergeKey: [String]
    /// The source's own key (primary key, else a sound unique key; empty without one).
    public var sourceKey: [SourceColumn] = []
    /// A snapshot of a table with no key (no primary key, no sound unique key, no key_columns):
    /// one unordered scan, no checkpoints; an interrupted run starts over (KBWritePlan.startsOver).
    public var isKeylessSnapshot: Bool { cursor == nil && tiebreaker.isEmpty }
    /// This run reads the whole table again after a completed run of the same job (see `RunStart`).
    public var refreshesCompletedRun = false

    /// Whether an initial extract first passes over rows whose cursor is NULL.
    public var cursorNullable: Bool { cursor.map { !$0.notNull } ?? false }

    /// The keyset of the ordered (values) pass: cursor then tie-breaker, or the primary key for a snapshot.
    public var valueKeys: [SourceColumn] { (cursor.map { [$0] } ?? []) + tiebreaker }

    /// Columns selected after the projection so the keyset can be read from every batch.
    public var hiddenKeys: [SourceColumn] {
        var hidden: [SourceColumn] = []
        for key in valueKeys where projectionIndex(of: key.name) == nil && !hidden.contains(key) {
            hidden.append(key)
        }
        return hidden
    }

    /// Position of each column of the result set (projection then hidden keys).
    public func resultIndex(of column: String) -> Int {
        if let index = projectionIndex(of: column) { return index }
        return projection.count + hiddenKeys.firstIndex(where: { $0.name == column })!
    }

    /// Where a key column is selected as itself in the projection (arrays are selected as JSON, so not there).
    private func projectionIndex(of column: String) -> Int? {
        projection.firstIndex(where: { $0.name == column && $0.kind != .array })
    }

    /// The checkpoint `kind` of the cursor column.
    public var cursorKind: String {
        guard let cursor else { return "snapshot" }
        switch cursor.baseTypeName {
        case "int2", "int4", "int8": return "integer"
        case "varchar", "bpchar", "text", "name", "citext": return "text"
        case let name where Checkpoint.kinds.contains(name): return name
        default: return "other"
        }
    }

    public static func make(spec: JobSpec, table: SourceTable) throws -> ExtractPlan {
        let where_ = "in \(table.qualifiedName)"
        func column(_ name: String, field: String) throws -> SourceColumn {
            guard let column = table.column(name) else {
                throw JobSpecError(field: field, problem: "column \"\(name)\" not found \(where_)")
            }
            return column
        }

        var projection: [SourceColumn]
        if let names = spec.source.columns {
            projection = try names.map { try column($0, field: "source.columns") }
        } else {
            projection = table.columns
        }
        // Ties are broken by the source's primary key (or a sound unique key), or, where it has
        // none (a view, say), by the job's key_columns, which the job asserts are unique.
        let sourceKey = table.primaryKey.isEmpty ? table.uniqueKey : table.primaryKey
        let mergeKey = spec.keyColumns.isEmpty ? sourceKey : spec.keyColumns
        for key in mergeKey {
            let keyColumn = try column(key, field: "key_columns")
            if !projection.contains(keyColumn) { projection.append(keyColumn) }
        }
        try refuseNamesEqualButForCase(projection, table: table, listed: spec.source.columns != nil)
        let uniqueKey = try (sourceKey.isEmpty ? spec.keyColumns : sourceKey).map { try column($0, field: "key_columns") }
        let cursor = try spec.source.cursorColumn.map { try column($0, field: "source.cursor_column") }
        let tiebreaker: [SourceColumn]
        if let cursor {
            guard cursor.orderable else {
                throw JobSpecError(field: "source.cursor_column",
                                   problem: "column \"\(cursor.name)\" has type \(cursor.declaredType), which has no ordering; choose a sortable column")
            }
            let uniqueOnItsOwn = uniqueKey == [cursor] || table.uniqueColumns.contains(cursor.name)
            if uniqueOnItsOwn && cursor.notNull {
                tiebreaker = []
            } else if uniqueKey.contains(where: { $0 != cursor }) {
                tiebreaker = uniqueKey.filter { $0 != cursor }
            } else {
                // Either ties are possible, or NULL cursors are, and those rows are paged by the tie-breaker.
                let why = uniqueOnItsOwn ? "may be NULL" : "is not unique"
                throw JobSpecError(field: "source.cursor_column",
                                   problem: "column \"\(cursor.name)\" \(why) and \(table.qualifiedName) has no primary key to break ties; use a unique NOT NULL cursor column, add a primary key, or name unique key_columns")
            }
        } else {
            // A snapshot pages by the key; with none it is one unordered scan that starts over if interrupted.
            tiebreaker = uniqueKey
        }
        var plan = ExtractPlan(table: table, projection: projection, cursor: cursor, tiebreaker: tiebreaker, mergeKey: mergeKey)
        plan.sourceKey = try sourceKey.map { try column($0, field: "key_columns") }
        return plan
    }

    /// The plan of a first load in key order (see `KeyOrderLoad`): no cursor, paged by the
    /// source's key, which must be the KB table's key too (rows then arrive in the KB's order).
    /// Nil when the cursor is that key's first column (cursor order is key order already), for a
    /// view (its key is not the source's), or without a source key.
    public var keyOrderPlan: ExtractPlan? {
        guard let cursor, !sourceKey.isEmpty, sourceKey.map(\.name) == mergeKey, sourceKey.first != cursor,
              ["r", "p"].contains(table.relkind) else { return nil }
        var plan = ExtractPlan(table: table, projection: projection, cursor: nil, tiebreaker: sourceKey, mergeKey: mergeKey)
        plan.sourceKey = sourceKey
        plan.refreshesCompletedRun = refreshesCompletedRun
        return plan
    }

    /// SQLite folds ASCII case in column names, so `"Name"` and `name` cannot both be KB columns.
    private static func refuseNamesEqualButForCase(_ projection: [SourceColumn], table: SourceTable, listed: Bool) throws {
        var seen: [String: String] = [:]
        for column in projection {
            let folded = String(column.name.unicodeScalars.map { $0.isASCII ? Character($0).lowercased() : String($0) }.joined())
            if let first = seen[folded] {
                let way = listed ? "leave one of them out of source.columns" : "list the columns to keep in source.columns, leaving one of them out"
                throw JobSpecError(field: "source.columns",
                                   problem: "columns \"\(first)\" and \"\(column.name)\" of \(table.qualifiedName) differ only in case, which one KB table cannot hold (SQLite column names ignore case); \(way)")
            }
            seen[folded] = column.name
        }
    }

    /// Checks that a resume checkpoint fits this plan (same cursor column, same tie-breaker columns).
    public func validate(_ checkpoint: Checkpoint, field: String) throws {
        if let keyPass = checkpoint.keyPass {
            guard let keyPlan = keyOrderPlan, checkpoint.column == cursor?.name else {
                throw JobSpecError(field: "\(field).key_pass",
                                   problem: "this job cannot load by key (it needs a cursor column and the source's primary key as the KB key); run it with mode replace")
            }
            let expected = keyPlan.tiebreaker.map(\.name)
            if !keyPass.isEmpty && keyPass.map(\.column) != expected {
                throw JobSpecError(field: "\(field).key_pass",
                                   problem: "columns (\(keyPass.map(\.column).joined(separator: ", "))) do not match the source's key (\(expected.joined(separator: ", ")))")
            }
        }
        if let column = checkpoint.column, column != cursor?.name {
            throw JobSpecError(field: "\(field).column",
                               problem: "the checkpoint is for column \"\(column)\" but source.cursor_column is \"\(cursor?.name ?? "(none)")\"")
        }
        if !Checkpoint.kind(checkpoint.kind, fits: cursorKind) {
            throw JobSpecError(field: "\(field).kind",
                               problem: "\"\(checkpoint.kind)\" does not fit \(cursor.map { "column \"\($0.name)\" (\($0.declaredType))" } ?? "a snapshot"); expected \"\(cursorKind)\"")
        }
        if checkpoint.nullCursorPass && !cursorNullable {
            throw JobSpecError(field: "\(field).null_cursor_pass", problem: "the cursor column is NOT NULL, so there is no NULL pass")
        }
        if checkpoint.keyPass != nil { return }
        if !checkpoint.tiebreaker.isEmpty {
            let given = checkpoint.tiebreaker.map(\.column)
            let expected = tiebreaker.map(\.name)
            guard given == expected else {
                throw JobSpecError(field: "\(field).tiebreaker",
                                   problem: "columns (\(given.joined(separator: ", "))) do not match the tie-breaker (\(expected.joined(separator: ", ")))")
            }
        } else if cursor == nil {
            throw JobSpecError(field: "\(field).tiebreaker", problem: "is required for a snapshot checkpoint")
        }
    }
}

extension ExtractPlan {
    /// What the KB rules need to know of this plan (the same for both placements).
    public var kbWritePlan: KBWritePlan {
        var plan = KBWritePlan(
            columns: projection.map { KBColumn(name: $0.name, sourceType: $0.declaredType, kbType: $0.kind.sqliteType) },
            mergeKey: mergeKey,
            sourceCatalog: Dictionary(table.columns.map { ($0.name, $0.declaredType) }, uniquingKeysWith: { first, _ in first }),
            sourceName: table.qualifiedName)
        plan.sourceNumbers = Dictionary(table.columns.compactMap { column in column.attnum.map { (column.name, $0) } },
                                        uniquingKeysWith: { first, _ in first })
        plan.startsOver = isKeylessSnapshot
        plan.refreshesCompletedRun = refreshesCompletedRun
        return plan
    }
}
