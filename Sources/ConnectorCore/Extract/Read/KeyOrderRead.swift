import Logging

/// A whole-table read by key, then a cursor catch-up (see `KeyOrderLoad` for why and how it is
/// exact): takes the cursor's high-water mark (or keeps a resumed load's), loads by key in short
/// segments of a primary-key index range scan, then reads in cursor order from the mark. A load
/// that completes always ends on a plain cursor checkpoint, so a `key_pass` checkpoint always
/// means an unfinished load, wherever it is handed on.
struct KeyOrderRead: ReadStrategy {
    /// The job's plan (cursor order) and the same read by key.
    let plan: ExtractPlan
    let keyPlan: ExtractPlan
    let resumeFrom: Checkpoint?
    /// An index leads with the cursor (the mark is one index probe).
    let cursorIndexed: Bool
    /// The catch-up's segments, and the load's (an index range scan on the key).
    let catchUp: ReadPass.Segments
    let keySegmentSeconds: Double

    var summary: String { "key order, then cursor catch-up" }

    func read(_ context: ReadContext, into landing: Landing, onProgress: (ExtractProgress) -> Void) throws -> ReadOutcome {
        let plan = self.plan, link = context.link, stopFlag = context.stopFlag
        let highWater = resumeFrom?.keyPass != nil ? resumeFrom?.value
            : try link.retrying("cursor high-water mark") { try KeyOrderLoad.highWater(plan: plan, cursorIndexed: cursorIndexed, on: $0) }
        context.logger.info("first load in key order, then a cursor catch-up from the high-water mark", metadata: [
            "key": "\(keyPlan.tiebreaker.map(\.name).joined(separator: ","))", "high_water": "\(highWater ?? "none")"])
        let load = ReadPass(plan: keyPlan, start: KeyOrderLoad.start(resumeFrom: resumeFrom), segments: .short(seconds: keySegmentSeconds),
                            rereadFrom: resumeFrom?.rereadFrom, writersPlan: plan, confirmsEnd: true) {
            KeyOrderLoad.checkpoint($0, plan: plan, highWater: highWater)
        }
        let byKey = try context.drain(load, into: landing, onProgress: onProgress)
        let outcome = ReadOutcome(keyOrderRows: landing.rows)
        guard !stopFlag.isRaised else { return outcome }
        let start: KeysetPosition
        do {
            start = try KeyOrderLoad.catchUpStart(plan: plan, highWater: highWater, rereadFrom: byKey.rereadFrom,
                                                  settings: context.settings, link: link)
        } catch where stopFlag.isRaised {
            return outcome  // a stop cancelled the query: the run ends stopped
        }
        guard !stopFlag.isRaised else { return outcome }
        try context.drain(ReadPass(plan: plan, start: start, segments: catchUp), into: landing, onProgress: onProgress)
        // A load whose catch-up landed nothing ends on its mark as a plain cursor checkpoint.
        try landing.flush(onProgress: onProgress)
        if !stopFlag.isRaised, let plain = KeyOrderLoad.plainCheckpoint(landing.checkpoint) {
            try landing.commit(plain, onProgress: onProgress)
        }
        return outcome
    }
}
