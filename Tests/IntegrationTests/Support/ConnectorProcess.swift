import Foundation

/// The built `timbal-connector` executable, run as a real child process.
enum ConnectorBinary {
    /// Beside the test bundle in the build directory (`swift test` builds every product).
    static var path: String {
        if let explicit = ProcessInfo.processInfo.environment["TIMBAL_CONNECTOR_BIN"] { return explicit }
        let testBinary = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: testBinary).deletingLastPathComponent()
        // On some layouts the test binary sits inside a bundle directory.
        for _ in 0..<3 {
            let candidate = directory.appendingPathComponent("timbal-connector").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return "timbal-connector"
    }

    /// Starts the connector with `arguments`; stdout and stderr go to files in `directory`.
    static func start(_ arguments: [String], logDirectory: String, name: String, environment: [String: String] = [:]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        FileManager.default.createFile(atPath: "\(logDirectory)/\(name).out", contents: nil)
        FileManager.default.createFile(atPath: "\(logDirectory)/\(name).err", contents: nil)
        process.standardOutput = FileHandle(forWritingAtPath: "\(logDirectory)/\(name).out")
        process.standardError = FileHandle(forWritingAtPath: "\(logDirectory)/\(name).err")
        try process.run()
        return process
    }

    /// Runs to the end; returns the exit status and what it printed.
    static func run(_ arguments: [String], logDirectory: String, name: String) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = try start(arguments, logDirectory: logDirectory, name: name)
        process.waitUntilExit()
        let out = (try? String(contentsOfFile: "\(logDirectory)/\(name).out", encoding: .utf8)) ?? ""
        let err = (try? String(contentsOfFile: "\(logDirectory)/\(name).err", encoding: .utf8)) ?? ""
        return (process.terminationStatus, out, err)
    }
}

/// Polls `condition` every 20 ms for up to `seconds`.
func waitUntil(seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date(timeIntervalSinceNow: seconds)
    while Date() < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: 0.02)
    }
    return false
}
