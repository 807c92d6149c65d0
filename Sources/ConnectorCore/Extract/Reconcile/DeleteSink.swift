/// A destination that can apply a delete reconciliation (both placements' sinks). Kept apart from
/// `BatchSink` so a sink that cannot is refused by name, not by a crash.
public protocol DeleteSink: AnyObject {
    /// Makes the KB table ready for `choice` (the mark column for `soft`) and refuses, naming
    /// `deletes`, a table it cannot reconcile. Called after `open` and before any row moves.
    func prepareDeletes(_ choice: DeletesChoice, keys: ReconcileKeys) throws
    /// Applies one range of the source's keys: KB keys in `range` that `present` lacks are removed
    /// or marked. Rows landed before it are committed first (the range must see them).
    func applyDeletes(range: KBKeyRange, present: [KBKey]) throws
    /// Rows removed or marked by this run; nil when the destination counts them itself (the
    /// plane, for a hosted job).
    var rowsDeleted: Int64? { get }
}
