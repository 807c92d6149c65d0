import TimbalModel

/// A question the plane asks a connector and waits for: browse, query, pushed configuration.
/// The connector answers each with one `reply` carrying the same `request_id`.
public struct PlaneRequest: Equatable, Sendable {
    public enum Action: String, Sendable, CaseIterable {
        case browseConnections = "browse_connections"
        case browseTables = "browse_tables"
        case browseColumns = "browse_columns"
        case browseTable = "browse_table"
        case query
        case localConfig = "local_config"
    }

    public var requestID: String
    /// The action's name; an action this connector does not know is answered with an error.
    public var action: String
    public var params: JSONValue

    public init(requestID: String, action: Action, params: JSONValue) {
        self.init(requestID: requestID, actionName: action.rawValue, params: params)
    }

    public init(requestID: String, actionName: String, params: JSONValue) {
        self.requestID = requestID
        self.action = actionName
        self.params = params
    }
}

/// A connector's answer: a result, or an error with a code the plane maps to an HTTP status.
public struct PlaneReply: Equatable, Sendable {
    public struct Failure: Equatable, Sendable {
        /// `invalid`, `not_found`, `forbidden`, `statement`, `source_unavailable`, `busy`, `unsupported`.
        public var code: String
        public var message: String
        public var sqlState: String?
        public init(code: String, message: String, sqlState: String? = nil) {
            self.code = code
            self.message = message
            self.sqlState = sqlState
        }
    }

    public var requestID: String
    public var result: JSONValue?
    public var failure: Failure?

    public init(requestID: String, result: JSONValue) {
        self.requestID = requestID
        self.result = result
    }

    public init(requestID: String, failure: Failure) {
        self.requestID = requestID
        self.failure = failure
    }
}

extension PlaneRequest {
    var json: [(String, JSONValue)] {
        [("request_id", .string(requestID)), ("action", .string(action)), ("params", params)]
    }

    init(reading r: Reader) throws {
        self.init(requestID: try r.string("request_id"), actionName: try r.string("action"), params: r.optional("params") ?? .object([]))
    }
}

extension PlaneReply {
    var json: [(String, JSONValue)] {
        var members: [(String, JSONValue)] = [("request_id", .string(requestID))]
        if let result { members.append(("result", result)) }
        if let failure {
            var error: [(String, JSONValue)] = [("code", .string(failure.code)), ("message", .string(failure.message))]
            if let state = failure.sqlState { error.append(("sqlstate", .string(state))) }
            members.append(("error", .object(error)))
        }
        return members
    }

    init(reading r: Reader) throws {
        let id = try r.string("request_id")
        if let error = r.optional("error") {
            let e = Reader(error)
            self.init(requestID: id, failure: Failure(code: try e.string("code"), message: try e.string("message"),
                                                      sqlState: e.optionalString("sqlstate")))
        } else {
            self.init(requestID: id, result: r.optional("result") ?? .null)
        }
    }
}
