import TimbalSupport
/// A job spec that cannot run: names the field path and the problem, e.g.
/// `source.cursor_column: must not be empty`.
public struct JobSpecError: Error, CustomStringConvertible, Equatable, Sendable {
    public let field: String
    public let problem: String

    public init(field: String, problem: String) {
        self.field = field
        self.problem = problem
    }

    public var description: String { field.isEmpty ? problem : "\(field): \(problem)" }
}
