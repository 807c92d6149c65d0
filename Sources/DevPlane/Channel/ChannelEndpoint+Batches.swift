import ChannelProtocol
import HummingbirdWebSocket
import KBRules
import Logging
import TimbalModel
import TimbalSupport

extension ChannelEndpoint {
    /// Checks a hosted batch against the job it names (`BatchAdmission`), lands it and acknowledges
    /// it. A refused batch lands nothing: the sender gets `error {batch_refused}` and the refusal is
    /// logged; when the job is the sender's own and open, the job fails and is stopped (its
    /// connector sends batches the plane cannot land), whereas another connector's or an unknown
    /// job is left untouched. An acknowledgement that cannot be sent (the channel is closing) is
    /// not a refusal: the connector sends the batch again on its next channel, and the plane lands
    /// each seq once. SQLite work runs on a thread of its own, off the server's pool.
    func admitAndLand(_ batch: HostedBatch, bytes: [UInt8], rows: Range<Int>, connectorID: String,
                      outbound: WebSocketOutboundWriter) async throws {
        let store = self.store, hostedKBs = self.hostedKBs
        let outcome: Result<Bool, BatchAdmission.Refusal> = try await BlockingThread.run {
            let job = try store.job(id: batch.jobID, connectorID: connectorID)
            if let refusal = BatchAdmission.check(batch, job: job) {
                // A resend of a batch that landed before the job ended is still acknowledged.
                if job != nil, job?.placement == "hosted", try hostedKBs.hasLanded(batch) { return .success(false) }
                return .failure(refusal)
            }
            do {
                let landed = try hostedKBs.land(batch, bytes: bytes, rows: rows)
                if batch.reconcile != nil, let count = hostedKBs.takeDeleted(jobID: batch.jobID) {
                    try store.addRowsDeleted(jobID: batch.jobID, count)
                }
                return .success(landed)
            } catch let error as KBError {
                return .failure(.init(jobID: batch.jobID, field: error.field, problem: error.problem, jobIsTheSenders: true))
            } catch {
                return .failure(.init(jobID: batch.jobID, field: "rows", problem: "\(error)", jobIsTheSenders: true))
            }
        }
        switch outcome {
        case .failure(let refusal):
            try await refuse(refusal, connectorID: connectorID, outbound: outbound)
        case .success:
            do {
                try await outbound.write(.text(ChannelMessage.batchAck(jobID: batch.jobID, seq: batch.seq).encoded()))
            } catch {
                logger.info("batch landed but its acknowledgement could not be sent; the connector will resend it",
                            metadata: ["job.id": "\(batch.jobID.forLog)", "seq": "\(batch.seq)"])
                throw error
            }
        }
    }

    private func refuse(_ refusal: BatchAdmission.Refusal, connectorID: String, outbound: WebSocketOutboundWriter) async throws {
        logger.warning("hosted batch refused", metadata: [
            "connector.id": "\(connectorID)", "job.id": "\(refusal.jobID.forLog)", "field": "\(refusal.field)",
            "error": "\(refusal.problem)"])
        try await outbound.write(.text(ChannelMessage.error(code: "batch_refused", message: "job \(refusal.jobID.forLog): \(refusal.field): \(refusal.problem)").encoded()))
        guard refusal.jobIsTheSenders else { return }
        let store = self.store
        try await BlockingThread.run {
            try store.apply(JobReport(jobID: refusal.jobID, reportSeq: Int64.max - 1, state: .failed,
                                      message: "hosted KB: \(refusal.field): \(refusal.problem)"), connectorID: connectorID)
        }
        try await outbound.write(.text(ChannelMessage.stop(jobID: refusal.jobID).encoded()))
    }
}
