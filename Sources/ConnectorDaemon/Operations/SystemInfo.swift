/// What the connector reports about the host it runs on.
public enum SystemInfo {
    public static let version = "0.2.0"
    #if os(Linux)
    public static let os = "linux"
    #else
    public static let os = "darwin"
    #endif
    #if arch(x86_64)
    public static let arch = "x86_64"
    #elseif arch(arm64)
    public static let arch = "arm64"
    #else
    public static let arch = "unknown"
    #endif
}
