import ChannelProtocol
import TimbalModel

/// Records a job and sends it to its connector (now if it is connected, else when it reconnects).
/// Used by the dispatch route and by the sync scheduler.
struct JobDispatcher: Sendable {
    let store: PlaneStore
    let hub: ConnectorHub
    let channel: ChannelEndpoint

    /// Records the job (state `dispatched`) and sends it if the connector's channel is up.
    /// Returns the job id and whether the dispatch went out now.
    func dispatch(org: String, connectorID: String, spec: JobSpec, body: JSONValue,
                  syncID: String? = nil) async throws -> (jobID: String, sent: Bool) {
        let jobID = try store.createJob(org: org, connectorID: connectorID, spec: spec, body: body.serialized(), syncID: syncID)
        var sent = false
        if let job = try store.job(id: jobID, org: org) {
            sent = await hub.send(try channel.dispatchMessage(job), to: connectorID)
        }
        return (jobID, sent)
    }
}
