/// Walks the KB's keys beside the source's, both in the same ascending order, and says of each
/// KB key whether the source has it: a streaming merge that holds one source slice and one KB key.
///
/// Pure, and strict about order: a key out of order on either side means the two sides do not
/// sort alike (a collation, a type the KB stores differently), and the walk stops with an error
/// rather than call a key missing that it merely failed to meet.
public struct KeyMergeWalk: Sendable {
    /// A stream was not strictly ascending where the walk needs it to be.
    public struct OrderError: Error, CustomStringConvertible, Equatable {
        public var side: String
        public var previous: String
        public var next: String
        public var description: String {
            "deletes: \(side) keys are not in the order the walk needs (\(next) came after \(previous)); no row was removed"
        }
    }

    private let source: [KBKey]
    private var index = 0
    private var lastKB: KBKey?

    /// `source`: every source key of one range, ascending.
    public init(source: [KBKey]) throws {
        for i in source.indices.dropFirst() where !(source[i - 1] < source[i]) {
            throw OrderError(side: "source", previous: source[i - 1].description, next: source[i].description)
        }
        self.source = source
    }

    /// Whether the source has `kbKey`; KB keys must come in ascending order.
    public mutating func sourceHas(_ kbKey: KBKey) throws -> Bool {
        if let lastKB, !(lastKB < kbKey) {
            throw OrderError(side: "KB", previous: lastKB.description, next: kbKey.description)
        }
        lastKB = kbKey
        while index < source.count, source[index] < kbKey { index += 1 }
        return index < source.count && source[index] == kbKey
    }

    /// The KB keys `kb` (ascending) that `source` lacks: the walk over whole arrays, for tests and
    /// small ranges.
    public static func missing(source: [KBKey], kb: [KBKey]) throws -> [KBKey] {
        var walk = try KeyMergeWalk(source: source)
        return try kb.filter { try !walk.sourceHas($0) }
    }
}
