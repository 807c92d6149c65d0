import Foundation
import Testing

/// The systemd unit and the daemon's sd_notify protocol (READY, WATCHDOG, STOPPING).
@Suite("systemd", .serialized)
struct SystemdTests {
    static let analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test(.enabled(if: analyze != nil || TestDatabase.isCI, "systemd-analyze is not installed (under CI=true this test runs and fails instead)"))
    func theUnitPassesSystemdAnalyzeVerify() throws {
        let unit = try String(contentsOfFile: PrivateServer.repository + "/systemd/timbal-connector.service", encoding: .utf8)
        #expect(unit.contains("Type=notify"))
        // verify checks that ExecStart exists: point it at the binary just built.
        let directory = NSTemporaryDirectory() + "unit-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/timbal-connector.service"
        try unit.replacingOccurrences(of: "/usr/local/bin/timbal-connector", with: ConnectorBinary.path)
            .write(toFile: path, atomically: true, encoding: .utf8)
        let output = directory + "/verify.out"
        let status = system("\(Self.analyze ?? "systemd-analyze") verify '\(path)' > '\(output)' 2>&1")
        let said = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        #expect(status == 0, "\(said)")
        #expect(!said.contains("timbal-connector.service:"), "\(said)")
    }

    @Test(.enabled(if: TestDatabase.isAvailable, TestDatabase.skipReason))
    func theDaemonSaysReadyPingsTheWatchdogAndSaysStopping() throws {
        let harness = try DaemonHarness()
        try harness.startPlane()
        try harness.enroll()
        let socketPath = harness.directory + "/notify.sock"
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        #expect(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in socketPath.utf8.enumerated() { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0)
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var received: [String] = []
        func drain() {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = recv(fd, &buffer, buffer.count, 0)
                if count <= 0 { return }
                received.append(String(decoding: buffer[0..<count], as: UTF8.self))
            }
        }
        try harness.startConnector(environment: ["NOTIFY_SOCKET": socketPath, "WATCHDOG_USEC": "200000"])
        #expect(waitUntil(seconds: 20) { drain(); return received.contains { $0.hasPrefix("READY=1") } && received.contains("WATCHDOG=1") })
        kill(harness.connector!.processIdentifier, SIGTERM)
        #expect(waitUntil(seconds: 15) { drain(); return received.contains("STOPPING=1") })
        harness.connector!.waitUntilExit()
        #expect(harness.connector!.terminationStatus == 0)
    }
}
