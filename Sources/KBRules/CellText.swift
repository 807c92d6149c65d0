/// Conversions of Postgres text cells into what the KB stores. Pure functions on bytes.
public enum CellText {
    /// Parses a decimal integer (`-?[0-9]+`) that fits Int64.
    public static func int64(_ bytes: UnsafeBufferPointer<UInt8>) -> Int64? {
        var index = 0
        var negative = false
        if bytes.count > 0 && bytes[0] == UInt8(ascii: "-") { negative = true; index = 1 }
        guard index < bytes.count else { return nil }
        var value: Int64 = 0
        while index < bytes.count {
            let digit = Int64(bytes[index]) - 48
            guard digit >= 0 && digit <= 9 else { return nil }
            let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = negative ? shifted.subtractingReportingOverflow(digit) : shifted.addingReportingOverflow(digit)
            if overflow1 || overflow2 { return nil }
            value = next
            index += 1
        }
        return value
    }

    /// Decodes bytea's hex output (`\x0a1b...`) into `out`; false if the text is not that form.
    public static func byteaHex(_ bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) -> Bool {
        out.removeAll(keepingCapacity: true)
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "\\"), bytes[1] == UInt8(ascii: "x"), bytes.count % 2 == 0 else {
            return false
        }
        var index = 2
        while index < bytes.count {
            guard let high = hexValue(bytes[index]), let low = hexValue(bytes[index + 1]) else { return false }
            out.append(high << 4 | low)
            index += 2
        }
        return true
    }

    @inline(__always)
    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 48...57: return byte - 48
        case 97...102: return byte - 87
        case 65...70: return byte - 55
        default: return nil
        }
    }

    /// Rewrites Postgres's ISO timestamp (`2026-06-01 12:00:00.5+00`) as fixed-width ISO-8601
    /// (`2026-06-01T12:00:00.500000Z`; no `Z` without a zone), so text order is time order.
    /// Returns the length written into `out` (needs 27 bytes), or nil for forms it leaves alone
    /// (`infinity`, BC dates, years past 9999): those are stored as Postgres printed them.
    public static func isoTimestamp(_ bytes: UnsafeBufferPointer<UInt8>, withZone: Bool,
                                    into out: UnsafeMutablePointer<UInt8>) -> Int? {
        let count = bytes.count
        guard count >= 19, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
              bytes[10] == UInt8(ascii: " "), bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":") else { return nil }
        var index = 19
        var fractionStart = 0, fractionCount = 0
        if index < count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            fractionStart = index
            while index < count, bytes[index] >= 48, bytes[index] <= 57 { index += 1 }
            fractionCount = index - fractionStart
            if fractionCount == 0 || fractionCount > 6 { return nil }
        }
        if withZone {
            // The session runs in UTC, so the zone is always +00.
            guard index + 3 == count, bytes[index] == UInt8(ascii: "+"), bytes[index + 1] == 48, bytes[index + 2] == 48 else { return nil }
        } else if index != count {
            return nil
        }
        for i in 0..<19 { out[i] = bytes[i] }
        out[10] = UInt8(ascii: "T")
        out[19] = UInt8(ascii: ".")
        for i in 0..<6 { out[20 + i] = i < fractionCount ? bytes[fractionStart + i] : 48 }
        if withZone { out[26] = UInt8(ascii: "Z"); return 27 }
        return 26
    }

    /// Exact powers of ten a Double holds (10^0 ... 10^22).
    private static let exactPowersOfTen: [Double] = (0...22).map { exponent in
        var value = 1.0
        for _ in 0..<exponent { value *= 10 }
        return value
    }

    /// Parses a decimal number (`-?digits[.digits][e[+-]digits]`, as Postgres prints float4 and
    /// float8) when that can be done exactly with one rounding: a significand of at most 2^53
    /// and a power of ten of at most 10^22 (Clinger's fast path), both exact in a Double, so one
    /// multiplication or division gives the correctly rounded value strtod would. Returns nil
    /// otherwise (more digits, larger exponents, NaN, Infinity); the caller then uses strtod.
    public static func exactDouble(_ bytes: UnsafeBufferPointer<UInt8>) -> Double? {
        let count = bytes.count
        var index = 0
        let negative = count > 0 && bytes[0] == UInt8(ascii: "-")
        if negative { index = 1 }
        var significand: UInt64 = 0
        var digits = 0
        var exponent = 0
        var sawDigit = false
        while index < count, bytes[index] >= 48, bytes[index] <= 57 {
            significand = significand &* 10 &+ UInt64(bytes[index] - 48)
            if significand != 0 { digits += 1 }
            sawDigit = true
            index += 1
        }
        if index < count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            while index < count, bytes[index] >= 48, bytes[index] <= 57 {
                significand = significand &* 10 &+ UInt64(bytes[index] - 48)
                if significand != 0 { digits += 1 }
                exponent -= 1
                sawDigit = true
                index += 1
            }
        }
        guard sawDigit, digits <= 19 else { return nil }
        if index < count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            var exponentNegative = false
            if index < count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                exponentNegative = bytes[index] == UInt8(ascii: "-")
                index += 1
            }
            var written = 0
            var exponentDigits = 0
            while index < count, bytes[index] >= 48, bytes[index] <= 57, exponentDigits < 5 {
                written = written * 10 + Int(bytes[index] - 48)
                exponentDigits += 1
                index += 1
            }
            guard exponentDigits > 0 else { return nil }
            exponent += exponentNegative ? -written : written
        }
        guard index == count, significand <= 1 << 53, exponent >= -22, exponent <= 22 else { return nil }
        var value = Double(significand)
        value = exponent >= 0 ? value * exactPowersOfTen[exponent] : value / exactPowersOfTen[-exponent]
        return negative ? -value : value
    }
}
