/// FNV-1a, 64 bits, as lowercase hex: a short stable name for a job id or a table (not a checksum
/// against tampering).
public func fnv1aHex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
    var hash: UInt64 = 0xcbf29ce484222325
    for byte in bytes {
        hash ^= UInt64(byte)
        hash = hash &* 0x100000001b3
    }
    return String(hash, radix: 16)
}

public func fnv1aHex(_ text: String) -> String { fnv1aHex(text.utf8) }
