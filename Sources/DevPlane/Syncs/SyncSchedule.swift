import Foundation

/// When a sync runs next: pure rules, so they can be tested without a plane.
///
/// `interval_secs` is the time between run starts; each failed run since the last completed one
/// doubles it (never beyond an hour, and never below `interval_secs`), and the tenth such failure
/// disables the sync.
public enum SyncSchedule {
    public static let failuresBeforeDisable = 10
    public static let backoffCapSeconds: Int64 = 3600

    public enum Decision: Equatable, Sendable {
        /// Too many failures in a row: disable the sync.
        case disable
        /// The previous run has not ended; a sync runs one run at a time.
        case busy
        case wait(until: Date)
        case run
    }

    /// The interval after `consecutiveFailures` failed runs: doubled per failure, capped at an hour
    /// (an interval already longer than an hour is kept).
    public static func effectiveInterval(intervalSecs: Int64, consecutiveFailures: Int) -> Int64 {
        guard consecutiveFailures > 0 else { return intervalSecs }
        var seconds = intervalSecs
        for _ in 0..<consecutiveFailures where seconds < backoffCapSeconds { seconds *= 2 }
        return max(intervalSecs, min(seconds, backoffCapSeconds))
    }

    /// When the next run is due: at once for a sync that never ran.
    public static func nextRunAt(lastRunStart: Date?, intervalSecs: Int64, consecutiveFailures: Int) -> Date? {
        guard let lastRunStart else { return nil }
        let interval = effectiveInterval(intervalSecs: intervalSecs, consecutiveFailures: consecutiveFailures)
        return lastRunStart.addingTimeInterval(Double(interval))
    }

    public static func decide(runOpen: Bool, lastRunStart: Date?, intervalSecs: Int64, consecutiveFailures: Int,
                              now: Date) -> Decision {
        if consecutiveFailures >= failuresBeforeDisable { return .disable }
        if runOpen { return .busy }
        guard let due = nextRunAt(lastRunStart: lastRunStart, intervalSecs: intervalSecs, consecutiveFailures: consecutiveFailures),
              due > now else { return .run }
        return .wait(until: due)
    }
}
