import ChannelProtocol
import KBRules
import TimbalModel
import TimbalSupport

/// The plane's side of a hosted job's `deletes`: checks a reconcile batch against its dispatch,
/// and applies it to the hosted KB with the shared `KBDeletes` rules.
enum HostedDeletes {
    /// Why a batch's `deletes` or `reconcile` does not fit the job as dispatched (nil: it fits).
    /// A connector reconciles only a job dispatched with that very `deletes`.
    static func admissionProblem(_ batch: HostedBatch, dispatchedSpec: String) -> String? {
        guard batch.deletes != nil || batch.reconcile != nil else { return nil }
        let dispatched = (try? JobSpec.decode(json: dispatchedSpec))?.deletes ?? .keep
        if let said = batch.deletes, said != dispatched.rawValue {
            return "\"\(said.forLog)\", but job \(batch.jobID.forLog) was dispatched with \"\(dispatched.rawValue)\""
        }
        guard let reconcile = batch.reconcile else { return nil }
        if dispatched == .keep || reconcile.deletes != dispatched.rawValue {
            return "a reconcile slice (\"\(reconcile.deletes.forLog)\") for job \(batch.jobID.forLog), dispatched with \"\(dispatched.rawValue)\""
        }
        if batch.final { return "a reconcile slice cannot be a final batch" }
        return nil
    }

    /// Applies one slice to the job's target table; `record` runs in the same transaction.
    static func apply(_ reconcile: HostedReconcile, batch: HostedBatch, target: KBTarget, kb: KBFile,
                      record: () throws -> Void) throws -> Int64 {
        guard !target.mergeKey.isEmpty, target.mergeKey == batch.keyColumns else {
            throw KBError(field: "deletes", problem: "KB table \"\(target.table.forLog)\" is not keyed on the batch's key_columns; deletes match rows on that key")
        }
        let kinds = try reconcile.keyKinds.map { name -> KBKeyKind in
            guard let kind = KBKeyKind(rawValue: name) else {
                throw KBError(field: "reconcile.key_kinds", problem: "\"\(name.forLog)\" is not one of integer, text")
            }
            return kind
        }
        guard kinds.count == target.mergeKey.count else {
            throw KBError(field: "reconcile.key_kinds", problem: "\(kinds.count) kinds for a key of \(target.mergeKey.count) columns")
        }
        func key(_ values: [String], _ field: String) throws -> KBKey {
            KBKey(try zip(values, kinds).map { value, kind in
                switch kind {
                case .text: return .text(Array(value.utf8))
                case .integer:
                    guard let number = Int64(value) else {
                        throw KBError(field: "reconcile.\(field)", problem: "\"\(value.forLog)\" is not an integer")
                    }
                    return .integer(number)
                }
            })
        }
        let range = KBKeyRange(after: try reconcile.after.map { try key($0, "after") },
                               through: try reconcile.through.map { try key($0, "through") })
        let present = try reconcile.keys.map { try key($0, "keys") }
        let deletes = try KBDeletes(kb: kb, table: target.table, keyColumns: target.mergeKey, kinds: kinds,
                                    soft: reconcile.deletes == DeletesChoice.soft.rawValue)
        return try deletes.apply(range: range, present: present, inTransaction: record)
    }
}
