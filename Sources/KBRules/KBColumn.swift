/// A column of a KB table: its name, the source's type for it (e.g. `numeric(12,2)`, recorded in
/// `_timbal_columns` so a later run can tell a retyped source column), and its SQLite type.
public struct KBColumn: Sendable, Equatable {
    public var name: String
    public var sourceType: String
    public var kbType: String

    public init(name: String, sourceType: String, kbType: String) {
        self.name = name
        self.sourceType = sourceType
        self.kbType = kbType
    }
}

/// What a run reads, for the KB rules: the columns it writes, the key it merges on, and (when
/// known) the whole source table's columns and types, to tell dropped and retyped columns.
public struct KBWritePlan: Sendable {
    public var columns: [KBColumn]
    public var mergeKey: [String]
    /// Name -> source type of every column the source table has now; nil when not known.
    public var sourceCatalog: [String: String]?
    /// Name -> the source column's number (Postgres's `attnum`) where known: a column dropped and
    /// added again, or another column renamed to its name, keeps name and type, not its number.
    public var sourceNumbers: [String: Int]?
    /// How the source is named in messages, e.g. `public.orders`.
    public var sourceName: String
    /// A snapshot of a table with no key: it cannot resume, so every run lands into a fresh staging
    /// table that replaces (`create`, `replace`) or is added to (`append`) the destination at the
    /// end, in one transaction: a stopped or crashed run leaves no half table visible.
    public var startsOver = false
    /// The run reads the whole source again after a completed run of the same job (a rerun of a
    /// `replace` or of a snapshot): its checkpoint and counts start over, and `replace` builds a
    /// new staging table, so rows deleted or changed since are not left stale.
    public var refreshesCompletedRun = false

    public init(columns: [KBColumn], mergeKey: [String], sourceCatalog: [String: String]?, sourceName: String) {
        self.columns = columns
        self.mergeKey = mergeKey
        self.sourceCatalog = sourceCatalog
        self.sourceName = sourceName
    }
}
