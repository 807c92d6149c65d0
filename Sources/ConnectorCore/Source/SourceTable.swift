/// A column of the source table as the catalog describes it.
public struct SourceColumn: Sendable, Equatable {
    public var name: String
    /// The column's type OID (a domain's own OID: the server resolves it when it binds a parameter).
    public var typeOID: UInt32
    /// `format_type` of the column, e.g. `character varying(20)`, for docs and `_timbal_columns`.
    public var declaredType: String
    /// The base type's name (domains resolved), e.g. `timestamptz`.
    public var baseTypeName: String
    public var notNull: Bool
    public var kind: ColumnKind
    /// True for json, xml and the like: no btree ordering, so not a cursor.
    public var orderable: Bool
    /// `pg_attribute.attnum` (nil for a column built by hand in a test): a column dropped and
    /// added again, or another column renamed to its name, has the same name and type but not
    /// the same number.
    public var attnum: Int? = nil
}

/// The source table: its columns, primary key and the planner's row estimate.
public struct SourceTable: Sendable {
    /// `pg_class.oid` (nil for a table built by hand in a test).
    public var oid: UInt32? = nil
    /// `pg_class.relfilenode` when the relation has storage of its own (nil for a partitioned
    /// table or a view): a new one means the table was rewritten (TRUNCATE, VACUUM FULL, ...).
    public var filenode: String? = nil
    /// `pg_class.relkind`: `r`, `p`, `v`, `m`, `f`.
    public var relkind: String = "r"
    public var schema: String
    public var name: String
    public var columns: [SourceColumn]
    public var primaryKey: [String]
    /// Without a primary key: the columns of a sound unique index that hold no NULL (else empty).
    public var uniqueKey: [String] = []
    /// Columns with a single-column unique index of their own.
    public var uniqueColumns: Set<String>
    /// `pg_class.reltuples`; -1 when never analysed.
    public var estimatedRows: Int64

    public var qualifiedName: String { "\(schema).\(name)" }

    public func column(_ name: String) -> SourceColumn? {
        columns.first { $0.name == name }
    }
}
