import ConnectorCore
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// One line per event on stderr: `ts=2026-11-30T10:00:00.123Z level=info msg="extract started"
/// job.id=42 ...` (logfmt), or one JSON object per line. Under journald (`JOURNAL_STREAM` set)
/// the `ts` field is left out: journald stamps every line itself.
struct LogfmtHandler: LogHandler {
    enum Format: String, Sendable { case logfmt, json }

    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level
    let label: String
    let format: Format
    let timestamps: Bool

    init(label: String, level: Logger.Level, format: Format,
         timestamps: Bool = getenv("JOURNAL_STREAM") == nil) {
        self.label = label
        self.logLevel = level
        self.format = format
        self.timestamps = timestamps
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var fields: [(String, String)] = [("level", event.level.rawValue), ("msg", event.message.description)]
        if timestamps { fields.insert(("ts", utcTimestamp()), at: 0) }
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        for key in merged.keys.sorted() { fields.append((key, "\(merged[key]!)")) }
        let line: String
        switch format {
        case .logfmt:
            line = fields.map { "\($0)=\(Self.logfmtValue($1))" }.joined(separator: " ")
        case .json:
            line = "{" + fields.map { "\(Self.jsonString($0)):\(Self.jsonString($1))" }.joined(separator: ",") + "}"
        }
        writeToStandardError(line + "\n")
    }

    static func logfmtValue(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.contains { $0 == " " || $0 == "=" || $0 == "\"" || $0.isNewline }
        guard needsQuotes else { return value }
        return jsonString(value)
    }

    static func jsonString(_ value: String) -> String {
        var out = ""
        JSONValue.writeString(value, to: &out)
        return out
    }
}
