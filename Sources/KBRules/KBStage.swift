import SQLiteStore
import TimbalSupport

/// Rows bound for a keyed KB table, held in a TEMP table of the writer's connection and written
/// into the table in key order. Rows that arrive in another order (a cursor that does not follow
/// the key) would each dirty a random page of the table's B-tree; in key order the B-tree is
/// walked once per flush, each page written once however many of its rows changed. A key staged
/// twice is written twice, the later version last (`rowid` order), so it wins.
final class KBStage {
    private let insert: SQLiteStatement
    private let ordered: SQLiteStatement
    private let clear: SQLiteStatement
    private let columnCount: Int
    /// Rows staged and not yet written.
    private(set) var rows = 0
    /// Page caches while rows are staged, KiB.
    static let tempCacheKiB = 512
    static let mainCacheKiB = 1024

    init(kb: KBFile, table: String, columns: [String], mergeKey: [String]) throws {
        // Same affinity as the table's own columns, so a staged value is the value the table
        // would hold and the stage sorts its keys exactly as the table's index does.
        var declared: [String: String] = [:]
        for row in try kb.database.rows("SELECT name, type FROM pragma_table_info(?)", [.text(table)]) {
            if let name = row[0].text { declared[name] = row[1].text ?? "" }
        }
        let definitions = columns.map { "\(SQLIdentifier.quote($0)) \(Self.affinity(of: declared[$0] ?? ""))" }
        let name = SQLIdentifier.quote("_timbal_stage_" + fnv1aHex(table + "\u{0}" + columns.joined(separator: "\u{0}")))
        // Made anew: a connection kept open across runs (the plane's) may hold one from a table
        // whose columns had other types then.
        try kb.database.execute("DROP TABLE IF EXISTS temp.\(name)", [])
        try kb.database.execute("CREATE TEMP TABLE \(name) (\(definitions.joined(separator: ", ")))", [])
        // Memory stays capped (32 MiB for the process): the stage's pages spill to a temporary
        // file past a small cache of their own, and the main cache, whose size also caps the
        // sorter that orders a flush, is 1 MiB: a flush walks the B-tree once in key order, so
        // the pages it comes back to are the current path's, and pages it reaches at random
        // would miss any cache the size of memory's budget anyway.
        try kb.database.execute("PRAGMA temp.cache_size = -\(Self.tempCacheKiB)")
        try kb.database.execute("PRAGMA main.cache_size = -\(Self.mainCacheKiB)")
        clear = try kb.database.prepare("DELETE FROM temp.\(name)")
        columnCount = columns.count
        insert = try kb.database.prepare("INSERT INTO temp.\(name) VALUES (" + (1...columns.count).map { "?\($0)" }.joined(separator: ", ") + ")")
        let order = mergeKey.map { SQLIdentifier.quote($0) } + ["rowid"]
        ordered = try kb.database.prepare("SELECT * FROM temp.\(name) ORDER BY \(order.joined(separator: ", "))")
    }

    /// Stages one row: `bind` binds its cells to parameters 1...n, as for the table's INSERT.
    func add(_ bind: (SQLiteStatement) throws -> Void) throws {
        try bind(insert)
        try insert.run()
        rows += 1
    }

    /// Writes every staged row through `write` in key order, then empties the stage.
    func drain(_ write: (_ bind: (SQLiteStatement) throws -> Void) throws -> Void) throws {
        defer { ordered.reset() }
        let count = columnCount, source = ordered
        while try ordered.step() {
            try write { try $0.bindColumns(of: source, count: count) }
        }
        ordered.reset()
        try clear.run()
        rows = 0
    }

    /// Forgets staged rows (their transaction rolled back, or the run failed).
    func discard() throws {
        try clear.run()
        rows = 0
    }

    /// SQLite's affinity rules (section 3.1 of its datatype documentation) for a declared type,
    /// as one of five fixed words: nothing from the table's schema reaches the SQL as text.
    static func affinity(of declared: String) -> String {
        let type = declared.uppercased()
        if type.contains("INT") { return "INTEGER" }
        if type.contains("CHAR") || type.contains("CLOB") || type.contains("TEXT") { return "TEXT" }
        if type.contains("BLOB") || type.isEmpty { return "BLOB" }
        if type.contains("REAL") || type.contains("FLOA") || type.contains("DOUB") { return "REAL" }
        return "NUMERIC"
    }
}
