import TimbalSupport

/// A job spec that cannot run: names the field path and the problem, e.g.
/// `source.cursor_column: must not be empty`. The same type as the KB rules' errors (`FieldError`).
public typealias JobSpecError = FieldError
