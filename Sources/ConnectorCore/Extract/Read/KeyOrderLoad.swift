import PostgresClient

/// A first load in key order, then a cursor catch-up: how a run reads a whole table when the
/// KB's key is the source's key (`ExtractPlan.keyOrderPlan`) and an index serves that key.
///
/// Reading in cursor order makes the KB's layout follow the cursor: where the cursor does not
/// follow the key (rows updated at random, the usual `updated_at`), every batch lands all over
/// the KB's B-tree, and without an index on the cursor the server sorts the whole table first.
/// In key order the source walks its primary-key index and the KB appends. Exactness comes from
/// the high-water mark: before the load, `highWater` takes the cursor's value every row changed
/// later will reach; after it, the catch-up reads from there (inclusive, reaching back to the
/// oldest writer the load saw, and by the lookback) in cursor order, merging by key.
enum KeyOrderLoad {
    /// Whether a run starting at `resumeFrom` loads by key: a full read (no checkpoint), or one
    /// that continues an unfinished load by key; with a key index to walk.
    static func applies(plan: ExtractPlan, resumeFrom: Checkpoint?, incremental: Bool, mergeKey: [String],
                        byKey: Bool, link: SourceLink) throws -> ExtractPlan? {
        guard let keyPlan = plan.keyOrderPlan else { return nil }
        // An unfinished load by key goes on by key (its checkpoint holds no cursor position to go
        // on from), whether this job's own or one given as the job's `cursor` (a sync's next run
        // starts from a stopped run's checkpoint). A completed load never ends on a `key_pass`
        // checkpoint (`plainCheckpoint`), except one without a mark, which needs no load by key:
        // its incremental run reads every non-NULL cursor value (`RunStart.position`).
        if let resumeFrom { return resumeFrom.keyPass != nil && (!incremental || resumeFrom.value != nil) ? keyPlan : nil }
        guard byKey, !mergeKey.isEmpty, mergeKey == plan.mergeKey else { return nil }
        let keys = keyPlan.tiebreaker.map(\.name)
        let indexing = try link.retrying("look for the key's index") {
            try KeysetIndexing.assess($0, table: plan.table, keyset: keys)
        }
        return indexing == .full ? keyPlan : nil
    }

    /// The cursor value every row changed from now on reaches: the largest value in the table
    /// (cheap with an index on the cursor). Without one, a `timestamptz` cursor takes the
    /// transaction's start instead of scanning the table (rows changed later are stamped at or
    /// after their own transaction's start, and older transactions still open are re-read by
    /// `reread_from`); other types scan once. Nil when no row has a cursor value.
    static func highWater(plan: ExtractPlan, cursorIndexed: Bool, on connection: PostgresConnection) throws -> String? {
        guard let cursor = plan.cursor else { return nil }
        let column = SQLIdentifier.quote(cursor.name)
        let table = SQLIdentifier.quote(schema: plan.table.schema, table: plan.table.name)
        if !cursorIndexed && cursor.baseTypeName == "timestamptz" {
            return try connection.execute("SELECT pg_catalog.transaction_timestamp()::text").string(0, 0)
        }
        // Not max(): uuid, bool and other orderable types have no max aggregate. The cast is
        // outside: `ORDER BY` an output column named like the cursor would sort its text.
        return try connection.execute(
            "SELECT top.mark::text FROM (SELECT \(column) AS mark FROM \(table) WHERE \(column) IS NOT NULL ORDER BY \(column) DESC LIMIT 1) AS top"
        ).string(0, 0)
    }

    /// The checkpoint a completed load leaves when its catch-up landed nothing: the mark, as an
    /// ordinary cursor checkpoint (the next run reads from it, inclusive). Nil when `last` is not
    /// a load's checkpoint or has no mark.
    static func plainCheckpoint(_ last: Checkpoint?) -> Checkpoint? {
        guard let last, last.keyPass != nil, let mark = last.value else { return nil }
        var plain = Checkpoint(kind: last.kind, column: last.column, value: mark)
        plain.rereadFrom = last.rereadFrom
        plain.sourceFilenode = last.sourceFilenode
        return plain
    }

    /// The checkpoint recorded while loading by key: the cursor's high-water mark as `value`, the
    /// last key landed as `key_pass`.
    static func checkpoint(_ byKey: Checkpoint?, plan: ExtractPlan, highWater: String?) -> Checkpoint? {
        guard let byKey else { return nil }
        var checkpoint = Checkpoint(kind: plan.cursorKind, column: plan.cursor?.name, value: highWater)
        checkpoint.keyPass = byKey.tiebreaker
        checkpoint.rereadFrom = byKey.rereadFrom
        checkpoint.sourceFilenode = byKey.sourceFilenode
        return checkpoint
    }

    /// Where the load by key starts: the beginning, or after the last key a resumed load landed.
    static func start(resumeFrom: Checkpoint?) -> KeysetPosition {
        let keys = resumeFrom?.keyPass?.map(\.value) ?? []
        return KeysetPosition(pass: .values, after: keys.isEmpty ? nil : keys)
    }

    /// Where the catch-up starts: the high-water mark, inclusive, or earlier when a writer the
    /// load saw began before it or the lookback reaches back (`IncrementalStart`); the start of
    /// the non-NULL cursor values when there was no mark.
    static func catchUpStart(plan: ExtractPlan, highWater: String?, rereadFrom: String?, settings: ConnectionSettings,
                             link: SourceLink) throws -> KeysetPosition {
        guard let highWater else { return KeysetPosition(pass: .values, after: nil) }
        var mark = Checkpoint(kind: plan.cursorKind, column: plan.cursor?.name, value: highWater)
        mark.rereadFrom = rereadFrom
        let from = try link.retrying("catch-up start") {
            try IncrementalStart.from(mark, plan: plan, settings: settings, on: $0)
        } ?? highWater
        return KeysetPosition(pass: .values, after: [from], inclusive: true)
    }
}
