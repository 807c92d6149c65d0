import TimbalModel
import TimbalSupport
import Hummingbird
import NIOCore

/// JSON bodies for the plane's routes, written with the project's exact JSON (int64 and decimals survive).
enum JSONResponse {
    static func make(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: value.serialized() + "\n")))
    }

    static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        make(.object([("error", .string(message))]), status: status)
    }

    static func body(_ request: Request) async throws -> JSONValue {
        let buffer = try await request.body.collect(upTo: 16 << 20)
        let text = String(buffer: buffer)
        if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return .object([]) }
        return try JSONParser.parse(text)
    }
}

extension JSONValue {
    static func optional(_ text: String?) -> JSONValue { text.map(JSONValue.string) ?? .null }
    static func int(_ value: Int64) -> JSONValue { .number(String(value)) }
}
