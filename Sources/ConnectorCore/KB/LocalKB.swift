import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif
import SQLiteStore

/// One local knowledge base: `<state-dir>/kb/<kb_id>.sqlite`, a `KBFile` (WAL mode, the extracted
/// tables, `_timbal_jobs` with every job's checkpoint, `_timbal_columns`).
public final class LocalKB {
    public let database: SQLiteDatabase
    public let kbID: Int64

    public static func path(stateDir: String, kbID: Int64) -> String {
        "\(stateDir)/kb/\(kbID).sqlite"
    }

    /// `<state-dir>/locks`, created 0700.
    static func lockDirectory(stateDir: String) throws -> String {
        let directory = "\(stateDir)/locks"
        do { try PrivateDirectory.create(directory) } catch {
            throw KBError(field: "state-dir", problem: "\(error)")
        }
        return directory
    }

    /// The shared KB file (bookkeeping and rules common to both placements).
    public let file: KBFile

    public init(stateDir: String, kbID: Int64) throws {
        let directory = "\(stateDir)/kb"
        do { try PrivateDirectory.create(directory) } catch {
            throw KBError(field: "state-dir", problem: "\(error)")
        }
        let path = Self.path(stateDir: stateDir, kbID: kbID)
        if PrivateDirectory.isSymbolicLink(path) {
            throw KBError(field: "kb", problem: "\(path) is a symbolic link; a KB file must be a regular file in the state dir")
        }
        self.kbID = kbID
        file = try KBFile(path: Self.path(stateDir: stateDir, kbID: kbID), kbID: kbID, label: "KB \(kbID)")
        database = file.database
    }

    /// This job's record when its KB says its last run completed; nil when it did not, or when
    /// the KB file does not exist (it is not created here).
    public static func completedRun(stateDir: String, kbID: Int64, jobID: String) throws -> JobRecord? {
        guard access(path(stateDir: stateDir, kbID: kbID), F_OK) == 0 else { return nil }
        guard let record = try LocalKB(stateDir: stateDir, kbID: kbID).jobRecord(jobID), record.state == "completed" else { return nil }
        return record
    }

    /// What `_timbal_jobs` remembers of one job.
    public struct JobRecord: Sendable {
        public var jobID: String
        public var destTable: String
        public var targetTable: String
        public var mode: String
        public var state: String
        public var checkpoint: Checkpoint?
        public var rowsLanded: Int64
        public var batches: Int64
    }

    public func jobRecord(_ jobID: String) throws -> JobRecord? {
        guard let record = try file.jobRecord(jobID) else { return nil }
        let checkpoint = try record.checkpoint.map { try Checkpoint.decode(json: $0, field: "checkpoint") }
        return JobRecord(jobID: jobID, destTable: record.destTable, targetTable: record.targetTable, mode: record.mode,
                         state: record.state, checkpoint: checkpoint, rowsLanded: record.rowsLanded, batches: record.batches)
    }
}

extension LocalKB {
    /// One job as a local KB remembers it (jobs run with `extract` live only there).
    public struct JobLine: Sendable {
        public var jobID: String
        public var kbID: Int64
        public var destTable: String
        public var state: String
        public var rowsLanded: Int64
        public var updatedAt: String
    }

    /// Every job recorded in the KBs under `<state-dir>/kb/`, read-only (nothing is created).
    public static func recordedJobs(stateDir: String) -> [JobLine] {
        let directory = "\(stateDir)/kb"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        var lines: [JobLine] = []
        for name in names where name.hasSuffix(".sqlite") {
            guard let kbID = Int64(name.dropLast(".sqlite".count)),
                  let database = try? SQLiteDatabase(path: "\(directory)/\(name)", readOnly: true),
                  let rows = try? database.rows("SELECT job_id, dest_table, state, rows_landed, updated_at FROM _timbal_jobs")
            else { continue }
            for row in rows {
                var landed: Int64 = 0
                if case .integer(let value) = row[3] { landed = value }
                lines.append(JobLine(jobID: row[0].text ?? "", kbID: kbID, destTable: row[1].text ?? "",
                                     state: row[2].text ?? "", rowsLanded: landed, updatedAt: row[4].text ?? ""))
            }
        }
        return lines
    }
}
