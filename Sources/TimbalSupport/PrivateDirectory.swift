#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Creates directories the connector keeps private (state, KBs, locks): mode 0700, parents
/// included, and an error an operator can act on (the path and the errno's meaning), never a
/// framework's error dump.
public enum PrivateDirectory {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let path: String
        public let reason: String
        public var description: String { "cannot create directory \(path): \(reason)" }
    }

    public static func create(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST {
                throw Failure(path: prefix, reason: String(cString: strerror(errno)))
            }
        }
        var info = stat()
        guard lstat(path, &info) == 0 else { throw Failure(path: path, reason: String(cString: strerror(errno))) }
        guard (info.st_mode & S_IFMT) == S_IFDIR else { throw Failure(path: path, reason: "it exists and is not a directory") }
    }

    /// Whether `path` is a symbolic link (a KB file must not be one: it could point anywhere).
    public static func isSymbolicLink(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK
    }
}

/// The known key nearest to `key` (edit distance at most 3), for "unknown key" warnings.
public func nearestKey(to key: String, among known: [String]) -> String? {
    func distance(_ a: [Character], _ b: [Character]) -> Int {
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1]
            for (j, y) in b.enumerated() {
                current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count]
    }
    let scored = known.map { ($0, distance(Array(key), Array($0))) }.min { $0.1 < $1.1 }
    guard let scored, scored.1 <= 3 else { return nil }
    return scored.0
}
