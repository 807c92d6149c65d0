import ConnectorCore
import ConnectorDaemon
import Foundation
import Testing

@Suite("Daemon configuration")
struct DaemonConfigTests {
    let directory = NSTemporaryDirectory() + "timbal-config-\(UUID().uuidString.prefix(8))"

    func write(_ text: String) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/config.json"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func readsEveryKeyWithDefaultsAndResolvesConnectionsBesideTheFile() throws {
        let path = try write(#"{"control_plane_url": "https://plane.example/"}"#)
        let config = try DaemonConfig.load(path: path)
        #expect(config.connectionsPath == directory + "/connections.json")
        #expect(config.stateDir == "/var/lib/timbal-connector")
        #expect(config.maxConcurrentJobs == 2 && config.heartbeatSeconds == 10 && config.hostedWindow == 4)
        #expect(config.metricsAddress == "127.0.0.1:9464")
        #expect(config.channelURL() == "wss://plane.example/v1/connect/channel")

        let off = try DaemonConfig.load(path: try write(#"{"control_plane_url": "http://127.0.0.1:8080", "metrics_address": null, "connections": "/etc/c.json"}"#))
        #expect(off.metricsAddress == nil)
        #expect(off.connectionsPath == "/etc/c.json")
        #expect(off.channelURL("enroll") == "ws://127.0.0.1:8080/v1/connect/enroll")
    }

    @Test func unknownKeysAreWarnedAboutNamingTheNearestKnownOne() throws {
        let path = try write(#"{"control_plane_url": "https://p", "heartbeat": 5, "state_dir": "/tmp/x"}"#)
        let config = try DaemonConfig.load(path: path)
        #expect(config.warnings == [#"\#(path): unknown key "heartbeat" ignored (did you mean "heartbeat_s"?)"#])
        #expect(config.heartbeatSeconds == 10)
    }

    @Test func errorsNameTheFileAndTheKey() throws {
        let cases: [(String, String)] = [
            (#"{"name": "x"}"#, "control_plane_url: is required"),
            (#"{"control_plane_url": "plane.example"}"#, #"control_plane_url: expected an http(s):// or ws(s):// URL, got "plane.example""#),
            (#"{"control_plane_url": "https://p", "max_concurrent_jobs": 0}"#, "max_concurrent_jobs: expected a whole number >= 1"),
            (#"{"control_plane_url": "https://p", "heartbeat_s": "10"}"#, "heartbeat_s: expected a whole number >= 1"),
            (#"{"control_plane_url": "https://p", "state_dir": ""}"#, "state_dir: expected a non-empty string"),
            (#"{"control_plane_url": "http://plane.example:8080"}"#,
             #"control_plane_url: plain http:// is allowed for a loopback development plane only; "plane.example" would see the credential in clear: use https://"#),
            (#"{"control_plane_url": "ws://10.0.0.1/x"}"#,
             #"control_plane_url: plain ws:// is allowed for a loopback development plane only; "10.0.0.1" would see the credential in clear: use https://"#),
            (#"{"control_plane_url": "https://p", "metrics_address": "127.0.0.256:19491"}"#,
             #"metrics_address: expected a loopback IPv4 address and a port like 127.0.0.1:9464, got "127.0.0.256:19491""#),
            (#"{"control_plane_url": "https://p", "metrics_address": "127.evil:19492"}"#,
             #"metrics_address: expected a loopback IPv4 address and a port like 127.0.0.1:9464, got "127.evil:19492""#),
            (#"{"control_plane_url": "https://p", "metrics_address": "0.0.0.0:9464"}"#,
             #"metrics_address: expected a loopback IPv4 address and a port like 127.0.0.1:9464, got "0.0.0.0:9464""#),
            ("[1]", "expected an object"),
        ]
        for (text, problem) in cases {
            let path = try write(text)
            #expect { try DaemonConfig.load(path: path) } throws: { "\($0)" == "\(path): \(problem)" }
        }
        #expect { try DaemonConfig.load(path: directory + "/missing.json") } throws: {
            "\($0)" == "\(directory)/missing.json: cannot read the file (missing or not readable)"
        }
    }

    @Test func theCredentialIsWrittenForItsOwnerOnly() throws {
        try Credential(connectorID: "conn_1", secret: "cred_s3cret").save(stateDir: directory)
        let attributes = try FileManager.default.attributesOfItem(atPath: Credential.path(stateDir: directory))
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let loaded = try Credential.load(stateDir: directory)
        #expect(loaded.connectorID == "conn_1" && loaded.secret == "cred_s3cret")
        #expect { try Credential.load(stateDir: directory + "/nowhere") } throws: {
            "\($0)".contains("no credential: enroll first with `timbal-connector enroll --url URL --token TOKEN`")
        }
        // A damaged file is named, with what to do.
        try "{not json".write(toFile: Credential.path(stateDir: directory), atomically: true, encoding: .utf8)
        #expect { try Credential.load(stateDir: directory) } throws: {
            "\($0)".hasPrefix(Credential.path(stateDir: directory) + ": ") && "\($0)".hasSuffix("enroll again to replace it")
        }
    }

    @Test func capabilitiesMatchWhatJobsNeed() {
        let local = JobSpec(kbID: 1, destTable: "t", source: SourceSpec(connectionRef: "c", table: "t", cursorColumn: "u"), placement: .local)
        #expect(local.requiredCapabilities == ["source:postgres", "kb:local"])
        #expect(Capabilities.missing(for: local) == nil)
        var mysql = local
        mysql.source.kind = "mysql"
        mysql.source.cursorColumn = nil
        #expect(mysql.requiredCapabilities == ["source:mysql", "kb:local", "extract:snapshot"])
        #expect(Capabilities.missing(for: mysql) == "source:mysql")
    }
}
