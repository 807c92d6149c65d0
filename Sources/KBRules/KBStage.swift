import SQLiteStore
import TimbalSupport

/// Rows bound for a keyed KB table, held in a TEMP table of the writer's connection and written
/// into the table in key order. Rows that arrive in another order (a cursor that does not follow
/// the key) would each dirty a random page of the table's B-tree; in key order the B-tree is
/// walked once per flush, each page written once however many of its rows changed. A key staged
/// twice is written twice, the later version last (`rowid` order), so it wins.
final class KBStage {
    private let insert: SQLiteStatement
    private let sort: SQLiteStatement
    private let chunk: SQLiteStatement
    private let clear: SQLiteStatement
    private let clearSorted: SQLiteStatement
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
        let tag = fnv1aHex(table + "\u{0}" + columns.joined(separator: "\u{0}"))
        let name = SQLIdentifier.quote("_timbal_stage_" + tag)
        let sorted = SQLIdentifier.quote("_timbal_sorted_" + tag)
        // Made anew: a connection kept open across runs (the plane's) may hold one from a table
        // whose columns had other types then.
        for table in [name, sorted] {
            try kb.database.execute("DROP TABLE IF EXISTS temp.\(table)", [])
            try kb.database.execute("CREATE TEMP TABLE \(table) (\(definitions.joined(separator: ", ")))", [])
        }
        // Memory stays capped (32 MiB for the process): the stage's pages spill to a temporary
        // file past a small cache of their own, and the main cache, whose size also caps the
        // sorter that orders a flush, is 1 MiB: a flush walks the B-tree once in key order, so
        // the pages it comes back to are the current path's, and pages it reaches at random
        // would miss any cache the size of memory's budget anyway.
        try kb.database.execute("PRAGMA temp.cache_size = -\(Self.tempCacheKiB)")
        try kb.database.execute("PRAGMA main.cache_size = -\(Self.mainCacheKiB)")
        clear = try kb.database.prepare("DELETE FROM temp.\(name)")
        clearSorted = try kb.database.prepare("DELETE FROM temp.\(sorted)")
        columnCount = columns.count
        insert = try kb.database.prepare("INSERT INTO temp.\(name) VALUES (" + (1...columns.count).map { "?\($0)" }.joined(separator: ", ") + ")")
        let order = mergeKey.map { SQLIdentifier.quote($0) } + ["rowid"]
        // Sorted once into a table of its own, whose rowids follow key order: it is then read in
        // chunks, each a statement that ends before the next, so the writer may commit between
        // two chunks (no statement of the connection is left open across a commit).
        sort = try kb.database.prepare("INSERT INTO temp.\(sorted) SELECT * FROM temp.\(name) ORDER BY \(order.joined(separator: ", "))")
        chunk = try kb.database.prepare("SELECT *, rowid FROM temp.\(sorted) WHERE rowid > ?1 ORDER BY rowid LIMIT \(Self.chunkRows)")
    }

    /// Rows read from the sorted stage per statement.
    static let chunkRows = 4096

    /// Stages one row: `bind` binds its cells to parameters 1...n, as for the table's INSERT.
    func add(_ bind: (SQLiteStatement) throws -> Void) throws {
        try bind(insert)
        try insert.run()
        rows += 1
    }

    /// Writes every staged row through `write` in key order, then empties the stage. Between
    /// two chunks of rows `between` runs with no statement of the stage open (the writer may
    /// commit there).
    func drain(_ write: (_ bind: (SQLiteStatement) throws -> Void) throws -> Void,
               between: () throws -> Void = {}) throws {
        defer { chunk.reset() }
        try sort.run()
        try clear.run()
        let count = columnCount, source = chunk
        var last: Int64 = 0
        while true {
            try chunk.bindInteger(last, at: 1)
            var read = 0
            while try chunk.step() {
                try write { try $0.bindColumns(of: source, count: count) }
                last = chunk.integer(at: count)
                read += 1
            }
            chunk.reset()
            guard read == Self.chunkRows else { break }
            try between()
        }
        try clearSorted.run()
        rows = 0
    }

    /// Forgets staged rows (their transaction rolled back, or the run failed).
    func discard() throws {
        chunk.reset()
        try clear.run()
        try clearSorted.run()
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
