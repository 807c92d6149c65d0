/// `deletes` for a local KB: the shared `KBDeletes` rules, applied to this job's target table.
extension LocalKBSink: DeleteSink {
    public var rowsDeleted: Int64? { deletedRows }

    public func prepareDeletes(_ choice: DeletesChoice, keys: ReconcileKeys) throws {
        guard let target else { throw KBError(field: "kb", problem: "deletes came before the KB table was opened (a bug in the extract's order)") }
        if choice == .soft { try KBDeletes.prepareSoft(kb: kb.file, table: target.table, sourceName: spec.source.qualifiedName) }
        deletes = try KBDeletes(kb: kb.file, table: target.table, keyColumns: keys.names, kinds: keys.kinds, soft: choice == .soft)
    }

    public func applyDeletes(range: KBKeyRange, present: [KBKey]) throws {
        guard let deletes else { throw KBError(field: "kb", problem: "deletes came before they were prepared (a bug in the extract's order)") }
        // Every landed batch is committed when `land` returns, so the range sees all of this run's rows.
        deletedRows += try deletes.apply(range: range, present: present)
    }
}
