import TimbalSupport

/// A KB problem an operator can act on (the table exists, a column is missing, ...): a `FieldError`.
public typealias KBError = FieldError
