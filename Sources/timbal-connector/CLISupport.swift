import ConnectorCore
import Dispatch
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Turns SIGINT and SIGTERM into a graceful stop at the next batch boundary.
final class SignalStopper: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []

    init(onSignal: @escaping @Sendable () -> Void) {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler(handler: onSignal)
            source.resume()
            sources.append(source)
        }
    }

    func cancel() {
        sources.forEach { $0.cancel() }
        for signalNumber in [SIGINT, SIGTERM] { signal(signalNumber, SIG_DFL) }
    }
}

/// The one-line summary printed on stdout when a run ends.
enum Summary {
    static func line(for result: ExtractResult) -> String {
        var parts = [
            "\(result.state.rawValue):", "job=\(result.jobID)", "table=\(result.destTable)",
            "rows=\(result.rowsLanded)", "total_rows=\(result.totalRowsLanded)", "batches=\(result.batches)",
            "duration=\(twoDecimals(result.durationSeconds))s",
            "rows_per_sec=\(Int(result.rowsPerSecond))",
        ]
        parts.append("rows_merged=\(result.rowsMerged)")
        parts.append("segments=\(result.segments)")
        if let deleted = result.rowsDeleted { parts.append("rows_deleted=\(deleted)") }
        if let blocks = result.heapBlocks, let table = result.tableBlocks {
            parts.append("heap_blocks=\(blocks)")
            parts.append("table_blocks=\(table)")
        }
        if result.keyOrderRows > 0 { parts.append("key_order_rows=\(result.keyOrderRows)") }
        if result.nullCursorRows > 0 { parts.append("null_cursor_rows=\(result.nullCursorRows)") }
        if result.nullCursorRowsSkipped > 0 { parts.append("null_cursor_rows_skipped=\(result.nullCursorRowsSkipped)") }
        if result.refreshed { parts.append("refreshed=true") }
        if let resumed = result.resumedFrom { parts.append("resumed_from=\"\(resumed.summary)\"") }
        for warning in result.warnings { parts.append("warning=\"\(warning)\"") }
        if let checkpoint = result.checkpoint { parts.append("checkpoint=\(checkpoint.json.serialized())") }
        return parts.joined(separator: " ")
    }
}

/// Writes a line to stderr, unbuffered.
func printError(_ line: String) {
    writeToStandardError(line + "\n")
}
