// The leaf modules every user of the core needs along with it.
@_exported import KBRules
@_exported import TimbalModel
@_exported import TimbalSupport
