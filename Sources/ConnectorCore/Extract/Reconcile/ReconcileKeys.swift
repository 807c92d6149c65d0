import PostgresClient

/// The key a delete reconciliation walks, and how each of its columns is read so the source's
/// order is the KB's: integers as integers; text, varchar and uuid as text compared byte by byte
/// (`COLLATE "C"` for the collatable ones, uuid's own order already being its text's byte order).
/// Other key types are stored in the KB in a form whose order differs from the source's
/// (numeric and timestamps as text, booleans as 0/1), so a job keyed on them is refused.
public struct ReconcileKeys: Sendable {
    public struct Column: Sendable {
        public var source: SourceColumn
        public var kind: KBKeyKind
        /// Read with `COLLATE "C"`: byte order whatever the column's collation.
        public var collateC: Bool
    }

    public let columns: [Column]
    public var names: [String] { columns.map(\.source.name) }
    /// How each column is stored (kept apart: the walk reads it for every key).
    public let kinds: [KBKeyKind]

    init(columns: [Column]) {
        self.columns = columns
        kinds = columns.map(\.kind)
    }
    /// Whether some column is read in an order its index may not have (a text collation).
    public var needsCollation: Bool { columns.contains(where: \.collateC) }

    /// Checks a job with `deletes` other than keep against its plan, before any row moves.
    public static func resolve(spec: JobSpec, plan: ExtractPlan) throws -> ReconcileKeys {
        guard !plan.mergeKey.isEmpty else {
            throw JobSpecError(field: "deletes", problem: "\"\(spec.deletes.rawValue)\" needs a key to tell which KB rows are gone from the source, and \(plan.table.qualifiedName) has no primary key or sound unique key; name unique key_columns, or use \"keep\"")
        }
        var columns: [Column] = []
        for name in plan.mergeKey {
            guard let column = plan.table.column(name) else {
                throw JobSpecError(field: "key_columns", problem: "column \"\(name)\" not found in \(plan.table.qualifiedName)")
            }
            switch column.baseTypeName {
            case "int2", "int4", "int8":
                columns.append(Column(source: column, kind: .integer, collateC: false))
            case "text", "varchar":
                columns.append(Column(source: column, kind: .text, collateC: true))
            case "uuid":
                columns.append(Column(source: column, kind: .text, collateC: false))
            default:
                throw JobSpecError(field: "deletes", problem: "key column \"\(name)\" has type \(column.declaredType), which the KB stores in an order that differs from the source's; deletes work with keys of smallint, integer, bigint, text, varchar and uuid columns (name such key_columns, or use \"keep\")")
            }
        }
        if spec.deletes == .soft {
            try KBDeletes.checkNoClash(columns: plan.projection.map(\.name), sourceName: plan.table.qualifiedName)
        }
        return ReconcileKeys(columns: columns)
    }

    /// The key of row `row` of a fetched result (the key columns, in order).
    func key(_ result: PostgresResult, row: Int) throws -> KBKey {
        func value(_ index: Int) throws -> KBKeyValue {
            guard let cell = result.bytes(row, index) else {
                throw KBError(field: "deletes", problem: "key column \"\(columns[index].source.name)\" read NULL, which the reconciliation excludes (a bug)")
            }
            switch kinds[index] {
            case .integer:
                guard let value = CellText.int64(cell) else {
                    throw KBError(field: "deletes", problem: "key column \"\(columns[index].source.name)\" read a value that is not an integer")
                }
                return .integer(value)
            case .text:
                return .text(Array(cell))
            }
        }
        return KBKey(first: try value(0), rest: kinds.count == 1 ? [] : try (1..<kinds.count).map(value))
    }

    /// The query that reads the key columns after `after` (nil: from the first key), in the KB's
    /// order; rows with a NULL key column are left out on both sides.
    func query(table: SourceTable, after: KBKey?) -> (sql: String, parameters: [String], types: [UInt32]) {
        let expressions = columns.map { $0.collateC ? "\(SQLIdentifier.quote($0.source.name)) COLLATE \"C\"" : SQLIdentifier.quote($0.source.name) }
        var conditions = columns.filter { !$0.source.notNull }.map { "\(SQLIdentifier.quote($0.source.name)) IS NOT NULL" }
        var parameters: [String] = [], types: [UInt32] = []
        if let after {
            parameters = after.values.map(\.text)
            types = columns.map(\.source.typeOID)
            let placeholders = (1...columns.count).map { "$\($0)" }
            conditions.append(columns.count == 1 ? "\(expressions[0]) > $1"
                              : "(\(expressions.joined(separator: ", "))) > (\(placeholders.joined(separator: ", ")))")
        }
        var sql = "SELECT " + columns.map { SQLIdentifier.quote($0.source.name) }.joined(separator: ", ")
            + " FROM " + SQLIdentifier.quote(schema: table.schema, table: table.name)
        if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
        sql += " ORDER BY " + expressions.joined(separator: ", ")
        return (sql, parameters, types)
    }
}
