import TimbalSupport
/// An extract job as the control plane dispatches it (README, "Job spec reference"), with defaults applied.
public struct JobSpec: Sendable, Equatable {
    public enum Mode: String, Sendable, CaseIterable {
        case create, append, replace, upsert
    }

    public enum Placement: String, Sendable, CaseIterable {
        case hosted, local
    }

    /// Rows per batch when `batch_rows` is absent, null or 0.
    public static let defaultBatchRows = 5000
    /// Batches are capped so memory stays bounded whatever a job asks for.
    public static let maxBatchRows = 100_000

    public var kbID: Int64
    public var destTable: String
    public var source: SourceSpec
    /// What the job asked for; 0 means "the connector's default".
    public var requestedBatchRows: Int
    public var cursor: Checkpoint?
    public var mode: Mode
    public var keyColumns: [String]
    public var pacing: Pacing
    public var placement: Placement
    /// `deletes`: what a run does with KB rows whose key is gone from the source (default keep).
    public var deletes: DeletesChoice = .keep

    /// The connector capabilities this job needs (`source:<kind>`, `kb:local`, `extract:snapshot`).
    public var requiredCapabilities: [String] {
        var needed = ["source:\(source.kind)"]
        if placement == .local { needed.append("kb:local") }
        if source.cursorColumn == nil { needed.append("extract:snapshot") }
        if deletes != .keep { needed.append(DeletesChoice.capability) }
        return needed
    }

    /// The batch size this connector uses: the request, or the default for 0, capped at `maxBatchRows`.
    public var batchRows: Int {
        let wanted = requestedBatchRows == 0 ? Self.defaultBatchRows : requestedBatchRows
        return min(wanted, Self.maxBatchRows)
    }

    public init(
        kbID: Int64, destTable: String, source: SourceSpec, requestedBatchRows: Int = 0,
        cursor: Checkpoint? = nil, mode: Mode = .create, keyColumns: [String] = [],
        pacing: Pacing = Pacing(), placement: Placement = .hosted
    ) {
        self.kbID = kbID
        self.destTable = destTable
        self.source = source
        self.requestedBatchRows = requestedBatchRows
        self.cursor = cursor
        self.mode = mode
        self.keyColumns = keyColumns
        self.pacing = pacing
        self.placement = placement
    }
}

/// Where the rows come from (`source` in the contract).
public struct SourceSpec: Sendable, Equatable {
    public var kind: String
    public var connectionRef: String
    public var table: String
    public var schema: String
    /// Nil means a snapshot pass (no cursor column).
    public var cursorColumn: String?
    /// Nil means all columns.
    public var columns: [String]?

    public init(kind: String = "postgres", connectionRef: String, table: String, schema: String = "public",
                cursorColumn: String? = nil, columns: [String]? = nil) {
        self.kind = kind
        self.connectionRef = connectionRef
        self.table = table
        self.schema = schema
        self.cursorColumn = cursorColumn
        self.columns = columns
    }

    public var qualifiedName: String { "\(schema).\(table)" }
}

/// Load shaping (`pacing` in the contract). Zero or absent fields mean "no limit".
public struct Pacing: Sendable, Equatable {
    public var maxRowsPerSec: Int
    public var batchDelayMs: Int64
    public var maxDop: Int
    public var readUncommitted: Bool

    public init(maxRowsPerSec: Int = 0, batchDelayMs: Int64 = 0, maxDop: Int = 0, readUncommitted: Bool = false) {
        self.maxRowsPerSec = maxRowsPerSec
        self.batchDelayMs = batchDelayMs
        self.maxDop = maxDop
        self.readUncommitted = readUncommitted
    }
}
