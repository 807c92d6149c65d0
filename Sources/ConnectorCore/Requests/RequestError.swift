import PostgresClient

/// Why a browse, query or config request failed, as the control plane is told: a code it maps to
/// an HTTP status, one line naming the field or the object, and the SQLSTATE of a statement
/// error. Never the DSN, host or user (connection failures say only which connection_ref failed).
public struct RequestError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Code: String, Sendable {
        /// A parameter is missing or wrong (HTTP 400).
        case invalid
        /// The connection_ref, schema or table does not exist (404).
        case notFound = "not_found"
        /// The connection's local policy refuses it: allow-list, system schema, write mode (403).
        case forbidden
        /// The source ran the statement and refused it (400, with `sqlstate`).
        case statement
        /// The source could not be reached (502).
        case sourceUnavailable = "source_unavailable"
        /// The connector is already answering as many requests as it takes at once (429).
        case busy
    }

    public let code: Code
    public let message: String
    public var sqlState: String?
    /// For the connector's own log only: the underlying cause (libpq's connection message, which
    /// PostgresClient has already stripped of any password).
    public var detail: String?

    public init(_ code: Code, _ message: String, sqlState: String? = nil, detail: String? = nil) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
        self.detail = detail
    }

    public var description: String { message }

    /// A field problem from the request's parameters.
    public static func invalid(_ error: JobSpecError) -> RequestError { RequestError(.invalid, error.description) }

    /// What a source error becomes: a statement error keeps its SQLSTATE and primary message;
    /// a connection failure names only the connection_ref.
    public static func from(_ error: Error, connectionRef: String) -> RequestError {
        if let request = error as? RequestError { return request }
        if let field = error as? JobSpecError {
            return RequestError(field.field.hasSuffix("connection_ref") ? .notFound : .invalid, field.description)
        }
        guard let postgres = error as? PostgresError else { return RequestError(.invalid, "\(error)") }
        switch postgres.kind {
        case .server:
            return RequestError(.statement, postgres.message, sqlState: postgres.sqlState)
        case .connectRefused:
            return RequestError(.sourceUnavailable,
                                "connection \"\(connectionRef)\": the server refused the login, or the DSN is invalid (details in the connector's log)",
                                detail: postgres.description)
        default:
            return RequestError(.sourceUnavailable, "connection \"\(connectionRef)\": could not reach the source (details in the connector's log)",
                                detail: postgres.description)
        }
    }
}
