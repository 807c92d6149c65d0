/// Builds the keyset query: bounded by the last key read, ordered, never OFFSET. Without a limit
/// it is the query of a segment cursor, which streams every batch of one segment from one scan.
public struct KeysetQuery: Sendable, Equatable {
    public var sql: String
    public var parameters: [String]
    public var parameterTypes: [UInt32]

    public static func make(plan: ExtractPlan, position: KeysetPosition, limit: Int?) -> KeysetQuery {
        let q: (String) -> String = { SQLIdentifier.quote($0) }
        let selectList = plan.projection.map(selectExpression) + plan.hiddenKeys.map { q($0.name) }
        var sql = "SELECT " + selectList.joined(separator: ", ")
            + " FROM " + SQLIdentifier.quote(schema: plan.table.schema, table: plan.table.name)

        var conditions: [String] = []
        var orderKeys: [SourceColumn]
        var parameters: [String] = []
        var types: [UInt32] = []
        switch position.pass {
        case .nullCursor:
            conditions.append("\(q(plan.cursor!.name)) IS NULL")
            orderKeys = plan.tiebreaker
        case .values:
            orderKeys = plan.valueKeys
            if let cursor = plan.cursor, position.after == nil, !cursor.notNull {
                conditions.append("\(q(cursor.name)) IS NOT NULL")
            }
        }
        if let after = position.after {
            let bounded = Array(orderKeys.prefix(after.count))
            parameters = after
            types = bounded.map(\.typeOID)
            let placeholders = (1...bounded.count).map { "$\($0)" }
            if bounded.count == 1 {
                conditions.append("\(q(bounded[0].name)) \(position.inclusive ? ">=" : ">") $1")
            } else {
                let names: String = bounded.map { q($0.name) }.joined(separator: ", ")
                let values: String = placeholders.joined(separator: ", ")
                conditions.append("(\(names)) > (\(values))")
            }
        }
        if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
        // A keyless snapshot has no order to keep: one plain scan.
        if !orderKeys.isEmpty { sql += " ORDER BY " + orderKeys.map { q($0.name) }.joined(separator: ", ") }
        if let limit { sql += " LIMIT \(limit)" }
        return KeysetQuery(sql: sql, parameters: parameters, parameterTypes: types)
    }

    /// Arrays are selected as JSON so they land as JSON text; everything else in its own text form.
    static func selectExpression(_ column: SourceColumn) -> String {
        let quoted = SQLIdentifier.quote(column.name)
        return column.kind == .array ? "pg_catalog.to_json(\(quoted))" : quoted
    }
}
