/// A local KB problem an operator can act on (the table exists, a column is missing, ...).
public struct KBError: Error, CustomStringConvertible, Sendable {
    public let field: String
    public let problem: String
    public init(field: String, problem: String) {
        self.field = field
        self.problem = problem
    }
    public var description: String { "\(field): \(problem)" }
}
