/// What a run does with KB rows whose key no longer exists at the source (`deletes` in a job or a
/// sync; this project's extension, capability `extract:deletes`).
public enum DeletesChoice: String, Sendable, CaseIterable {
    /// Deleted source rows stay in the KB (the platform's behaviour, and the default).
    case keep
    /// KB rows whose key is gone from the source are removed.
    case hard
    /// They get `_timbal_deleted_at` (UTC, microseconds), cleared if the key comes back.
    case soft

    /// The capability a connector advertises when it can reconcile deletes.
    public static let capability = "extract:deletes"
}
