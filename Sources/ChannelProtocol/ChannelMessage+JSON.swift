import TimbalModel
import TimbalSupport

/// A message that could not be read: names the field and the problem.
public struct ChannelDecodingError: Error, CustomStringConvertible, Sendable {
    public let problem: String
    public var description: String { "channel message: \(problem)" }
}

extension ChannelMessage {
    public var type: String {
        switch self {
        case .hello: return "hello"
        case .heartbeat: return "heartbeat"
        case .jobReport: return "job_report"
        case .batch: return "batch"
        case .resumeRequest: return "resume_request"
        case .enroll: return "enroll"
        case .welcome: return "welcome"
        case .dispatch: return "dispatch"
        case .stop: return "stop"
        case .reportAck: return "report_ack"
        case .batchAck: return "batch_ack"
        case .resume: return "resume"
        case .enrolled: return "enrolled"
        case .error: return "error"
        case .request: return "request"
        case .reply: return "reply"
        }
    }

    public func encoded() -> String { json.serialized() }

    /// A batch message whose rows are already JSON (`[[...], ...]`), spliced in without re-encoding.
    public static func encodedBatch(_ header: HostedBatch, rowsJSON: [UInt8]) -> [UInt8] {
        rowsJSON.withUnsafeBufferPointer { encodedBatch(header, rowsJSON: $0) }
    }

    public static func encodedBatch(_ header: HostedBatch, rowsJSON: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var bytes = Array(ChannelMessage.batch(header).encoded().utf8)
        // The header ends with `"rows":[]}`: put the real rows in place of the empty array.
        precondition(bytes.suffix(3) == Array("[]}".utf8))
        bytes.removeLast(3)
        bytes.reserveCapacity(bytes.count + rowsJSON.count + 1)
        bytes.append(contentsOf: rowsJSON)
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    public var json: JSONValue {
        var m: [(String, JSONValue)] = [("type", .string(type))]
        func s(_ key: String, _ value: String) { m.append((key, .string(value))) }
        func n(_ key: String, _ value: Int64) { m.append((key, .number(String(value)))) }
        switch self {
        case .hello(let h):
            n("protocol", Int64(h.protocolVersion)); s("name", h.name); s("hostname", h.hostname); s("os", h.os)
            s("arch", h.arch); s("version", h.version); m.append(("capabilities", .array(h.capabilities.map(JSONValue.string))))
            if h.probe { m.append(("probe", .bool(true))) }
        case .heartbeat:
            break
        case .jobReport(let r):
            s("job_id", r.jobID); n("report_seq", r.reportSeq); s("state", r.state.rawValue)
            n("rows_emitted", r.rowsEmitted); m.append(("rows_per_sec", .number(twoDecimals(r.rowsPerSec))))
            if let c = r.checkpoint { m.append(("checkpoint", c)) }
            if let v = r.message { s("message", v) }
            if let v = r.startedAt { s("started_at", v) }
            if let v = r.finishedAt { s("finished_at", v) }
            if let v = r.durationMs { n("duration_ms", v) }
            if let v = r.etaSeconds { m.append(("eta_s", .number(twoDecimals(v)))) }
            if let v = r.rowsDeleted { n("rows_deleted", v) }
        case .batch(let b):
            s("job_id", b.jobID); n("seq", b.seq); n("kb_id", b.kbID); s("dest_table", b.destTable); s("mode", b.mode)
            m.append(("key_columns", .array(b.keyColumns.map(JSONValue.string))))
            m.append(("columns", .array(b.columns.map { .object([("name", .string($0.name)), ("data_type", .string($0.dataType)), ("kb_type", .string($0.kbType))]) })))
            m.append(("checkpoint", b.checkpoint ?? .null))
            if b.final { m.append(("final", .bool(true))) }
            if b.runStart { m.append(("run_start", .bool(true))) }
            if b.startsOver { m.append(("starts_over", .bool(true))) }
            if b.inKeyOrder { m.append(("key_order", .bool(true))) }
            if let deletes = b.deletes { s("deletes", deletes) }
            if let reconcile = b.reconcile { m.append(("reconcile", reconcile.json)) }
            if let source = b.sourceColumns {
                m.append(("source_columns", .array(source.map { .object([("name", .string($0.name)), ("data_type", .string($0.dataType))]) })))
            }
            // Rows come last, so a reader can stream them from the message without scanning them twice.
            m.append(("rows", .array(b.rows.map(JSONValue.array))))
        case .resumeRequest(let jobID):
            s("job_id", jobID)
        case .enroll(let e):
            s("name", e.name); s("hostname", e.hostname)
        case .welcome(let id, let heartbeat):
            n("protocol", Int64(channelProtocolVersion)); s("connector_id", id); n("heartbeat_s", Int64(heartbeat))
        case .dispatch(let jobID, let spec, let resume):
            s("job_id", jobID); m.append(("spec", spec))
            if let resume { m.append(("resume", resume.json)) }
        case .stop(let jobID):
            s("job_id", jobID)
        case .reportAck(let jobID, let seq):
            s("job_id", jobID); n("report_seq", seq)
        case .batchAck(let jobID, let seq):
            s("job_id", jobID); n("seq", seq)
        case .resume(let r):
            return .object(m + { if case .object(let fields) = r.json { return fields } ; return [] }())
        case .enrolled(let id, let credential):
            s("connector_id", id); s("credential", credential)
        case .error(let code, let message):
            s("code", code); s("message", message)
        case .request(let request):
            m.append(contentsOf: request.json)
        case .reply(let reply):
            m.append(contentsOf: reply.json)
        }
        return .object(m)
    }

    /// Parses one frame. Unknown types come back as nil so peers can add messages without breaking.
    public static func decode(_ text: String) throws -> ChannelMessage? {
        let value: JSONValue
        do { value = try JSONParser.parse(text) } catch { throw ChannelDecodingError(problem: "\(error)") }
        return try decode(value)
    }

    public static func decode(_ v: JSONValue) throws -> ChannelMessage? {
        let r = Reader(v)
        switch try r.string("type") {
        case "hello":
            var hello = Hello(protocolVersion: Int(try r.int("protocol")), name: try r.string("name"),
                              hostname: try r.string("hostname"), os: try r.string("os"), arch: try r.string("arch"),
                              version: try r.string("version"), capabilities: try r.strings("capabilities"))
            hello.probe = v["probe"] == .bool(true)
            return .hello(hello)
        case "heartbeat": return .heartbeat
        case "job_report":
            guard let state = JobReport.State(rawValue: try r.string("state")) else { throw r.fail("state", "unknown state") }
            var report = JobReport(
                jobID: try r.string("job_id"), reportSeq: try r.int("report_seq"), state: state,
                rowsEmitted: try r.int("rows_emitted"), rowsPerSec: try r.double("rows_per_sec"),
                checkpoint: r.optional("checkpoint"), message: r.optionalString("message"),
                startedAt: r.optionalString("started_at"), finishedAt: r.optionalString("finished_at"),
                durationMs: try r.optionalInt("duration_ms"))
            if r.optional("eta_s") != nil { report.etaSeconds = try r.double("eta_s") }
            report.rowsDeleted = try r.optionalInt("rows_deleted")
            return .jobReport(report)
        case "batch":
            // `rows` may be left raw (null in the tree) by a reader that streams them.
            let rowValues: [JSONValue]
            switch v["rows"] {
            case .array(let items)?: rowValues = items
            case .null?: rowValues = []
            default: throw r.fail("rows", "expected an array of rows")
            }
            guard case .array(let columnValues)? = v["columns"] else { throw r.fail("columns", "expected an array") }
            let columns = try columnValues.map { column in
                let c = Reader(column)
                return HostedBatch.Column(name: try c.string("name"), dataType: try c.string("data_type"), kbType: try c.string("kb_type"))
            }
            let rows: [[JSONValue]] = try rowValues.map {
                guard case .array(let cells) = $0, cells.count == columns.count else { throw r.fail("rows", "a row does not match the columns") }
                return cells
            }
            var batch = HostedBatch(
                jobID: try r.string("job_id"), seq: try r.int("seq"), kbID: try r.int("kb_id"), destTable: try r.string("dest_table"),
                mode: try r.string("mode"), keyColumns: try r.strings("key_columns"), columns: columns, rows: rows,
                checkpoint: r.optional("checkpoint"), final: v["final"] == .bool(true))
            batch.runStart = v["run_start"] == .bool(true)
            batch.startsOver = v["starts_over"] == .bool(true)
            batch.inKeyOrder = v["key_order"] == .bool(true)
            batch.deletes = r.optionalString("deletes")
            batch.reconcile = try r.optional("reconcile").map(HostedReconcile.decode)
            if case .array(let source)? = v["source_columns"] {
                batch.sourceColumns = try source.map { column in
                    let c = Reader(column)
                    return HostedBatch.Column(name: try c.string("name"), dataType: try c.string("data_type"), kbType: "")
                }
            }
            return .batch(batch)
        case "resume_request": return .resumeRequest(jobID: try r.string("job_id"))
        case "enroll": return .enroll(Enroll(name: try r.string("name"), hostname: try r.string("hostname")))
        case "welcome": return .welcome(connectorID: try r.string("connector_id"), heartbeatSeconds: Int(try r.int("heartbeat_s")))
        case "dispatch":
            guard let spec = v["spec"] else { throw r.fail("spec", "is required") }
            return .dispatch(jobID: try r.string("job_id"), spec: spec, resume: try v["resume"].map(HostedResume.init(json:)))
        case "stop": return .stop(jobID: try r.string("job_id"))
        case "report_ack": return .reportAck(jobID: try r.string("job_id"), reportSeq: try r.int("report_seq"))
        case "batch_ack": return .batchAck(jobID: try r.string("job_id"), seq: try r.int("seq"))
        case "resume": return .resume(try HostedResume(json: v))
        case "enrolled": return .enrolled(connectorID: try r.string("connector_id"), credential: try r.string("credential"))
        case "error": return .error(code: try r.string("code"), message: try r.string("message"))
        case "request": return .request(try PlaneRequest(reading: r))
        case "reply": return .reply(try PlaneReply(reading: r))
        default: return nil
        }
    }
}

extension HostedResume {
    var json: JSONValue {
        .object([("job_id", .string(jobID)), ("seq", .number(String(seq))), ("checkpoint", checkpoint ?? .null),
                 ("rows_landed", .number(String(rowsLanded)))])
    }

    init(json: JSONValue) throws {
        let r = Reader(json)
        self.init(jobID: try r.string("job_id"), seq: try r.int("seq"), checkpoint: r.optional("checkpoint"),
                  rowsLanded: try r.optionalInt("rows_landed") ?? 0)
    }
}

/// Typed field access for channel messages.
struct Reader {
    let value: JSONValue
    init(_ value: JSONValue) { self.value = value }

    func fail(_ key: String, _ problem: String) -> ChannelDecodingError {
        ChannelDecodingError(problem: "\(key): \(problem)")
    }

    func optional(_ key: String) -> JSONValue? {
        guard let member = value[key], member != .null else { return nil }
        return member
    }

    func string(_ key: String) throws -> String {
        guard case .string(let text)? = value[key] else { throw fail(key, "expected a string") }
        return text
    }

    func optionalString(_ key: String) -> String? {
        if case .string(let text)? = value[key] { return text }
        return nil
    }

    func int(_ key: String) throws -> Int64 {
        guard case .number(let text)? = value[key], let number = Int64(text) else { throw fail(key, "expected an integer") }
        return number
    }

    func optionalInt(_ key: String) throws -> Int64? {
        guard optional(key) != nil else { return nil }
        return try int(key)
    }

    func double(_ key: String) throws -> Double {
        guard case .number(let text)? = value[key], let number = Double(text) else { throw fail(key, "expected a number") }
        return number
    }

    func strings(_ key: String) throws -> [String] {
        guard case .array(let items)? = value[key] else { throw fail(key, "expected an array of strings") }
        return try items.map {
            guard case .string(let text) = $0 else { throw fail(key, "expected an array of strings") }
            return text
        }
    }
}
