/// A problem an operator can act on, naming the field (or setting) and what is wrong with it,
/// e.g. `source.cursor_column: column "changed" not found in public.events`. One type for the
/// job spec's errors (`JobSpecError`) and the KB rules' (`KBError`).
public struct FieldError: Error, CustomStringConvertible, Equatable, Sendable {
    public let field: String
    public let problem: String

    public init(field: String, problem: String) {
        self.field = field
        self.problem = problem
    }

    public var description: String { field.isEmpty ? problem : "\(field): \(problem)" }
}
