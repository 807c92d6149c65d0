/// Where the next batch starts: which pass, and the last key read in it (nil = its beginning).
public struct KeysetPosition: Sendable, Equatable {
    public enum Pass: Sendable, Equatable {
        /// Rows whose cursor is NULL, ordered by the tie-breaker.
        case nullCursor
        /// Rows in cursor (then tie-breaker) order; for a snapshot, primary-key order.
        case values
    }

    public var pass: Pass
    /// Text values of the pass's key columns of the last row read. In the values pass this may hold
    /// only the cursor value (a checkpoint without tie-breaker): then rows with a greater cursor follow.
    public var after: [String]?
    /// Rows whose cursor equals `after`'s single cursor value are read too (`cursor >= value`).
    /// Where an incremental run starts: rows committed later with the checkpoint's own cursor
    /// value (a day-grained cursor, a key that is not monotonic) sort before the checkpoint's
    /// tie-breaker, so reading strictly after it would lose them; they are read and merged by key.
    public var inclusive: Bool

    public init(pass: Pass, after: [String]?, inclusive: Bool = false) {
        self.pass = pass
        self.after = after
        self.inclusive = inclusive && after?.count == 1
    }

    /// The position just past the row whose keys are `keys` (always exclusive).
    public func advanced(to keys: [String]) -> KeysetPosition {
        KeysetPosition(pass: pass, after: keys)
    }

    /// The initial position of a full extract.
    public static func start(for plan: ExtractPlan) -> KeysetPosition {
        KeysetPosition(pass: plan.cursorNullable ? .nullCursor : .values, after: nil)
    }

    /// Converts a checkpoint into a position (checked with `ExtractPlan.validate` first).
    public static func resuming(_ checkpoint: Checkpoint, plan: ExtractPlan) -> KeysetPosition {
        let ties = checkpoint.tiebreaker.map(\.value)
        if checkpoint.nullCursorPass {
            return KeysetPosition(pass: .nullCursor, after: ties.isEmpty ? nil : ties)
        }
        if plan.cursor == nil { return KeysetPosition(pass: .values, after: ties) }
        return KeysetPosition(pass: .values, after: [checkpoint.value ?? ""] + ties)
    }

    /// The checkpoint that records this position.
    public func checkpoint(plan: ExtractPlan) -> Checkpoint? {
        guard let after, !plan.isKeylessSnapshot else { return nil }
        switch pass {
        case .nullCursor:
            let ties = zip(plan.tiebreaker, after).map { Checkpoint.KeyValue(column: $0.name, value: $1) }
            return Checkpoint(kind: plan.cursorKind, column: plan.cursor?.name, value: nil, tiebreaker: ties, nullCursorPass: true)
        case .values:
            if plan.cursor == nil {
                let ties = zip(plan.tiebreaker, after).map { Checkpoint.KeyValue(column: $0.name, value: $1) }
                return Checkpoint(kind: "snapshot", column: nil, value: nil, tiebreaker: ties)
            }
            let ties = zip(plan.tiebreaker, after.dropFirst()).map { Checkpoint.KeyValue(column: $0.name, value: $1) }
            return Checkpoint(kind: plan.cursorKind, column: plan.cursor?.name, value: after.first, tiebreaker: ties)
        }
    }
}
