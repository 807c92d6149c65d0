import TimbalSupport

/// Reads typed fields out of a JSON object, producing `JobSpecError`s that name the path.
package struct FieldReader {
    package let object: JSONValue
    package let path: String

    package init(_ value: JSONValue, path: String) throws {
        guard case .object = value else {
            throw JobSpecError(field: path.isEmpty ? "job" : path, problem: "expected an object, got \(value.typeName)")
        }
        object = value
        self.path = path
    }

    package func field(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The member, or nil when absent or JSON null (the contract treats both as "use the default").
    package func value(_ key: String) -> JSONValue? {
        guard let value = object[key], value != .null else { return nil }
        return value
    }

    package func required(_ key: String) throws -> JSONValue {
        guard let value = value(key) else { throw JobSpecError(field: field(key), problem: "is required") }
        return value
    }

    package func string(_ key: String) throws -> String? {
        guard let value = value(key) else { return nil }
        guard case .string(let text) = value else {
            throw JobSpecError(field: field(key), problem: "expected a string, got \(value.typeName)")
        }
        // Names reach libpq and SQLite as C strings: a NUL would cut them short.
        if text.utf8.contains(0) { throw JobSpecError(field: field(key), problem: "must not contain a NUL character") }
        return text
    }

    package func requiredString(_ key: String) throws -> String {
        guard let text = try string(key) else { throw JobSpecError(field: field(key), problem: "is required") }
        return text
    }

    package func nonEmptyString(_ key: String) throws -> String? {
        guard let text = try string(key) else { return nil }
        if text.isEmpty { throw JobSpecError(field: field(key), problem: "must not be empty") }
        return text
    }

    package func integer(_ key: String, min: Int64, max: Int64 = Int64.max, typeName: String) throws -> Int64? {
        guard let value = value(key) else { return nil }
        guard case .number(let text) = value else {
            throw JobSpecError(field: field(key), problem: "expected \(typeName), got \(value.typeName)")
        }
        guard let number = Int64(text) else {
            throw JobSpecError(field: field(key), problem: "expected \(typeName), got \(text)")
        }
        if number < min { throw JobSpecError(field: field(key), problem: "must be >= \(min), got \(number)") }
        if number > max { throw JobSpecError(field: field(key), problem: "must be <= \(max), got \(number)") }
        return number
    }

    package func bool(_ key: String) throws -> Bool? {
        guard let value = value(key) else { return nil }
        guard case .bool(let flag) = value else {
            throw JobSpecError(field: field(key), problem: "expected a boolean, got \(value.typeName)")
        }
        return flag
    }

    /// A list of identifiers: non-empty strings, no duplicates; `[]` is refused when `allowEmpty` is false.
    package func identifierList(_ key: String, allowEmpty: Bool) throws -> [String]? {
        guard let value = value(key) else { return nil }
        guard case .array(let items) = value else {
            throw JobSpecError(field: field(key), problem: "expected an array of strings, got \(value.typeName)")
        }
        if items.isEmpty && !allowEmpty {
            throw JobSpecError(field: field(key), problem: "must not be empty (omit it to mean all columns)")
        }
        var names: [String] = []
        for (index, item) in items.enumerated() {
            guard case .string(let name) = item else {
                throw JobSpecError(field: "\(field(key))[\(index)]", problem: "expected a string, got \(item.typeName)")
            }
            if name.isEmpty { throw JobSpecError(field: "\(field(key))[\(index)]", problem: "must not be empty") }
            if name.utf8.contains(0) { throw JobSpecError(field: "\(field(key))[\(index)]", problem: "must not contain a NUL character") }
            if names.contains(name) {
                throw JobSpecError(field: "\(field(key))[\(index)]", problem: "\"\(name)\" is listed twice")
            }
            names.append(name)
        }
        return names
    }

    package func oneOf<T: RawRepresentable>(_ key: String, _: T.Type, allowed: [T]) throws -> T? where T.RawValue == String {
        guard let text = try string(key) else { return nil }
        guard let choice = T(rawValue: text), allowed.contains(where: { $0.rawValue == choice.rawValue }) else {
            let names = allowed.map(\.rawValue).joined(separator: ", ")
            throw JobSpecError(field: field(key), problem: "\"\(text)\" is not one of \(names)")
        }
        return choice
    }
}
