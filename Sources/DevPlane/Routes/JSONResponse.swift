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

    /// The request's JSON body. Too large, not UTF-8 or not JSON: a `BodyError` naming the problem.
    static func body(_ request: Request) async throws -> JSONValue {
        let buffer: ByteBuffer
        do { buffer = try await request.body.collect(upTo: maxBodyBytes) } catch {
            throw BodyError(description: "the body is larger than \(maxBodyBytes >> 20) MiB", tooLarge: true)
        }
        // Invalid UTF-8 is refused rather than repaired: a query or a DSN must arrive byte for byte.
        guard let text = String(validating: buffer.readableBytesView, as: UTF8.self) else {
            throw BodyError(description: "the body is not valid UTF-8")
        }
        if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return .object([]) }
        return try JSONParser.parse(text)
    }
}

/// A request body the plane cannot read.
struct BodyError: Error, CustomStringConvertible {
    let description: String
    var tooLarge = false
}

extension JSONResponse {
    static let maxBodyBytes = 16 << 20

    /// The answer to a body that could not be read: 413 when too large, else 400 with the reason.
    static func refusal(for error: Error) -> Response {
        if let body = error as? BodyError, body.tooLarge { return JSONResponse.error(.contentTooLarge, body.description) }
        return JSONResponse.error(.badRequest, "\(error)")
    }
}

extension String {
    /// Text a connector sent, made safe for one log line: control characters escaped, so it can
    /// neither forge log lines nor turn the log into binary.
    var forLog: String {
        var out = ""
        for scalar in unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f { out += "\\u{\(String(scalar.value, radix: 16))}" } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out
    }
}

extension JSONValue {
    static func optional(_ text: String?) -> JSONValue { text.map(JSONValue.string) ?? .null }
    static func int(_ value: Int64) -> JSONValue { .number(String(value)) }
}
