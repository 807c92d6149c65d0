import ConnectorCore

/// What this connector really does, advertised in `hello`.
public enum Capabilities {
    /// The platform gates on versions too (docs/protocol.md, "Capabilities and versions"):
    /// `extract:snapshot` and `browse:describe` need 0.1.25+, `query:sql` 0.1.26+; this
    /// connector reports `SystemInfo.version` (0.2.0), which is above both.
    public static let all = ["source:postgres", "kb:local", "extract:snapshot", "browse:describe", "query:sql", DeletesChoice.capability]

    /// The first capability the job needs that this connector lacks.
    public static func missing(for spec: JobSpec) -> String? {
        spec.requiredCapabilities.first { !all.contains($0) }
    }
}
