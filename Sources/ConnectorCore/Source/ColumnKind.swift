/// How a Postgres column lands in SQLite (docs/types.md).
public enum ColumnKind: String, Sendable, Equatable {
    /// smallint, integer, bigint, oid: SQLite INTEGER.
    case integer
    /// real, double precision: SQLite REAL (NaN kept as the text 'NaN').
    case real
    /// boolean: SQLite INTEGER 0/1.
    case boolean
    /// numeric: exact text, every digit kept.
    case numeric
    /// bytea: SQLite BLOB.
    case bytea
    /// timestamp without time zone: ISO-8601 text `YYYY-MM-DDTHH:MM:SS.ffffff`.
    case timestamp
    /// timestamp with time zone: ISO-8601 text in UTC `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
    case timestamptz
    /// arrays: JSON text (via Postgres's `to_json`).
    case array
    /// Everything else (text, varchar, char, date, time, interval, uuid, json, jsonb, enums, ...): Postgres's text form.
    case text

    /// The declared SQLite column type; chosen so SQLite applies no lossy affinity.
    public var sqliteType: String {
        switch self {
        case .integer, .boolean: return "INTEGER"
        case .real: return "REAL"
        case .bytea: return "BLOB"
        case .numeric, .timestamp, .timestamptz, .array, .text: return "TEXT"
        }
    }

    /// Maps a Postgres base type (name from pg_type, its category and type kind).
    public static func forPostgres(typeName: String, category: String, isEnum: Bool) -> ColumnKind {
        if category == "A" { return .array }
        if isEnum { return .text }
        switch typeName {
        case "int2", "int4", "int8", "oid": return .integer
        case "float4", "float8": return .real
        case "bool": return .boolean
        case "numeric": return .numeric
        case "bytea": return .bytea
        case "timestamp": return .timestamp
        case "timestamptz": return .timestamptz
        default: return .text
        }
    }
}
