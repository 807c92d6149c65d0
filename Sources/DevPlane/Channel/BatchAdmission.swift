import ChannelProtocol
import KBRules
import TimbalModel

/// What the plane checks a `batch` against before anything of it reaches a KB: the job it names
/// must have been dispatched to the channel's connector, still be open, be a hosted job, and the
/// batch must carry the dispatch's `kb_id`, `dest_table`, `mode` and key (when the dispatch named
/// one), known column types and legal names. The seq is checked when the batch lands (`HostedKBs`),
/// under the KB's lock: one more than the last landed batch, or a resend of a landed one.
enum BatchAdmission {
    /// Why a batch was refused; `jobIsTheSenders` says whether the job is the sender's own (its
    /// job then fails, since its connector sends batches the plane cannot land).
    struct Refusal: Error, CustomStringConvertible {
        let jobID: String
        let field: String
        let problem: String
        let jobIsTheSenders: Bool
        var description: String { "batch refused: \(field): \(problem)" }
    }

    /// The checks that need only the plane's job record. `job` is the record for the batch's job
    /// id and this connector (nil: unknown, or another connector's).
    static func check(_ batch: HostedBatch, job: PlaneStore.JobRow?) -> Refusal? {
        func refuse(_ field: String, _ problem: String, own: Bool = true) -> Refusal {
            Refusal(jobID: batch.jobID, field: field, problem: problem, jobIsTheSenders: own)
        }
        guard let job else {
            return refuse("job_id", "\"\(batch.jobID.forLog)\" is not a job dispatched to this connector", own: false)
        }
        if job.placement != "hosted" {
            return refuse("job_id", "job \(job.id) has placement \(job.placement), not hosted; it sends no batches")
        }
        if job.isTerminal {
            return refuse("job_id", "job \(job.id) is \(job.state); it takes no more batches", own: false)
        }
        if batch.kbID != job.kbID { return refuse("kb_id", "\(batch.kbID), expected \(job.kbID) as dispatched") }
        if batch.destTable != job.destTable {
            return refuse("dest_table", "\"\(batch.destTable.forLog)\", expected \"\(job.destTable)\" as dispatched")
        }
        if batch.mode != job.mode { return refuse("mode", "\"\(batch.mode.forLog)\", expected \"\(job.mode)\" as dispatched") }
        if let key = dispatchedKey(job), !key.isEmpty, batch.keyColumns != key {
            return refuse("key_columns", "\(batch.keyColumns.map(\.forLog)), expected \(key) as dispatched")
        }
        if batch.seq < 1 { return refuse("seq", "\(batch.seq), expected 1 or more") }
        if let problem = HostedDeletes.admissionProblem(batch, dispatchedSpec: job.spec) { return refuse("deletes", problem) }
        do {
            try KBNames.checkDestination(batch.destTable)
            for column in batch.columns {
                try KBNames.checkColumn(column.name)
                _ = try KBType.checked(column.kbType, column: column.name)
            }
            let names = Set(batch.columns.map(\.name))
            if names.count != batch.columns.count { return refuse("columns", "a column name appears twice") }
            if let missing = batch.keyColumns.first(where: { !names.contains($0) }) {
                return refuse("key_columns", "\"\(missing.forLog)\" is not among the batch's columns")
            }
        } catch let error as KBError {
            return refuse(error.field, error.problem)
        } catch {
            return refuse("columns", "\(error)")
        }
        return nil
    }

    /// The dispatch body's `key_columns`, when it named them (else the source's key, unknown here).
    private static func dispatchedKey(_ job: PlaneStore.JobRow) -> [String]? {
        guard let spec = try? JSONParser.parse(job.spec), case .array(let items)? = spec["key_columns"] else { return nil }
        return items.compactMap { if case .string(let name) = $0 { return name }; return nil }
    }
}
