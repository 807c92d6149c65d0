import TimbalModel
import TimbalSupport

/// The channel protocol's version; see docs/protocol.md. A peer with another major version is refused.
public let channelProtocolVersion = 1

/// One message on the channel: a JSON object with a `type`, one per WebSocket message (text,
/// except `batch`, which travels as a binary message of the same UTF-8 JSON: docs/protocol.md).
public enum ChannelMessage: Equatable, Sendable {
    // connector -> plane
    case hello(Hello)
    case heartbeat
    case jobReport(JobReport)
    case batch(HostedBatch)
    case resumeRequest(jobID: String)
    case enroll(Enroll)
    case reply(PlaneReply)
    // plane -> connector
    case welcome(connectorID: String, heartbeatSeconds: Int)
    case dispatch(jobID: String, spec: JSONValue, resume: HostedResume?)
    case stop(jobID: String)
    case reportAck(jobID: String, reportSeq: Int64)
    case batchAck(jobID: String, seq: Int64)
    case resume(HostedResume)
    case enrolled(connectorID: String, credential: String)
    case error(code: String, message: String)
    case request(PlaneRequest)
}

/// What a connector says of itself when the channel opens.
public struct Hello: Equatable, Sendable {
    public var protocolVersion: Int
    public var name: String
    public var hostname: String
    public var os: String
    public var arch: String
    public var version: String
    public var capabilities: [String]
    /// A probe (`timbal-connector check`): the plane checks the credential and answers `welcome`,
    /// but the probe does not take the connector's place on the plane.
    public var probe = false

    public init(protocolVersion: Int = channelProtocolVersion, name: String, hostname: String, os: String,
                arch: String, version: String, capabilities: [String]) {
        self.protocolVersion = protocolVersion
        self.name = name
        self.hostname = hostname
        self.os = os
        self.arch = arch
        self.version = version
        self.capabilities = capabilities
    }
}

/// A connector's request to trade an enrollment token (sent as the bearer) for a credential.
public struct Enroll: Equatable, Sendable {
    public var name: String
    public var hostname: String
    public init(name: String, hostname: String) {
        self.name = name
        self.hostname = hostname
    }
}

/// The state of a job as the connector last knew it. `reportSeq` grows with every report of a job,
/// so the plane applies each fact once and ignores replays.
public struct JobReport: Equatable, Sendable {
    public enum State: String, Sendable, CaseIterable {
        case accepted, running, completed, failed, stopped
        public var isTerminal: Bool { self == .completed || self == .failed || self == .stopped }
    }

    public var jobID: String
    public var reportSeq: Int64
    public var state: State
    public var rowsEmitted: Int64
    public var rowsPerSec: Double
    public var checkpoint: JSONValue?
    public var message: String?
    public var startedAt: String?
    public var finishedAt: String?
    public var durationMs: Int64?
    /// Seconds left at the current rate, from the planner's row estimate (extension; running jobs only).
    public var etaSeconds: Double?
    /// Rows the job's delete reconciliation removed or marked (extension, `extract:deletes`; nil: none ran).
    public var rowsDeleted: Int64?

    public init(jobID: String, reportSeq: Int64, state: State, rowsEmitted: Int64 = 0, rowsPerSec: Double = 0,
                checkpoint: JSONValue? = nil, message: String? = nil, startedAt: String? = nil,
                finishedAt: String? = nil, durationMs: Int64? = nil) {
        self.jobID = jobID
        self.reportSeq = reportSeq
        self.state = state
        self.rowsEmitted = rowsEmitted
        self.rowsPerSec = rowsPerSec
        self.checkpoint = checkpoint
        self.message = message
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.durationMs = durationMs
    }
}

/// Rows of a hosted job, in order: `seq` counts batches from 1 across every run of the job.
public struct HostedBatch: Equatable, Sendable {
    public struct Column: Equatable, Sendable {
        public var name: String
        /// The source type as `format_type` prints it.
        public var dataType: String
        /// The SQLite type it lands as (docs/types.md): INTEGER, REAL, TEXT or BLOB.
        public var kbType: String
        public init(name: String, dataType: String, kbType: String) {
            self.name = name
            self.dataType = dataType
            self.kbType = kbType
        }
    }

    public var jobID: String
    public var seq: Int64
    public var kbID: Int64
    public var destTable: String
    public var mode: String
    public var keyColumns: [String]
    public var columns: [Column]
    /// Cells as the platform specifies them (docs/protocol.md): numbers, exact decimals and timestamps as strings, `0x` hex, null.
    public var rows: [[JSONValue]]
    /// The checkpoint this batch completes; committed by the connector once the plane acks it.
    public var checkpoint: JSONValue?
    /// Set on the batch that ends a `replace` job's staging: the plane swaps the table in.
    public var final: Bool
    /// Set on the first batch of each run of the job (a resume too): the plane checks the KB
    /// table against the source again (new, dropped, retyped columns) before landing it.
    public var runStart: Bool = false
    /// Every column the source table has now (name and type), sent with `run_start`.
    public var sourceColumns: [Column]? = nil
    /// A snapshot of a table with no key: each run lands into a fresh staging table (the first
    /// batch of a run, `run_start`, rebuilds it), put in place by the final batch.
    public var startsOver = false
    /// The rows come in the KB table's key order (a first load by key): the plane writes them as
    /// they come instead of sorting them by key first. Only speed depends on it: rows sent with it
    /// out of order still land exactly, each on its own page.
    public var inKeyOrder = false
    /// `deletes` of the job when not `keep` (extension): the plane readies the table for it.
    public var deletes: String? = nil
    /// A slice of the delete reconciliation (extension); such a batch has no rows.
    public var reconcile: HostedReconcile? = nil

    public init(jobID: String, seq: Int64, kbID: Int64, destTable: String, mode: String, keyColumns: [String],
                columns: [Column], rows: [[JSONValue]], checkpoint: JSONValue?, final: Bool = false) {
        self.jobID = jobID
        self.seq = seq
        self.kbID = kbID
        self.destTable = destTable
        self.mode = mode
        self.keyColumns = keyColumns
        self.columns = columns
        self.rows = rows
        self.checkpoint = checkpoint
        self.final = final
    }
}

/// Where a hosted job stands on the plane: the last landed batch and its checkpoint.
public struct HostedResume: Equatable, Sendable {
    public var jobID: String
    public var seq: Int64
    public var checkpoint: JSONValue?
    public var rowsLanded: Int64

    public init(jobID: String, seq: Int64, checkpoint: JSONValue?, rowsLanded: Int64) {
        self.jobID = jobID
        self.seq = seq
        self.checkpoint = checkpoint
        self.rowsLanded = rowsLanded
    }
}
