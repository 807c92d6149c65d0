import ConnectorCore

/// What this connector really does, advertised in `hello`.
public enum Capabilities {
    public static let all = ["source:postgres", "kb:local", "extract:snapshot"]

    /// The first capability the job needs that this connector lacks.
    public static func missing(for spec: JobSpec) -> String? {
        spec.requiredCapabilities.first { !all.contains($0) }
    }
}
