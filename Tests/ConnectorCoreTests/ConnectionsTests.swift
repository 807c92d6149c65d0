import Foundation
import Testing
@testable import ConnectorCore

@Suite("connections.json")
struct ConnectionsTests {
    @Test func readsEntriesWithDefaults() throws {
        let connections = try Connections.parse(Array(#"{"erp": {"kind": "postgres", "dsn": "postgresql://reader@db/erp", "query": "read", "statement_timeout_ms": 1000}}"#.utf8), file: "c.json")
        let erp = try connections.settings(for: "erp")
        #expect(erp.dsn == "postgresql://reader@db/erp")
        #expect(erp.statementTimeoutMs == 1000)
        #expect(erp.lockTimeoutMs == ConnectionSettings.defaultLockTimeoutMs)
    }

    @Test func unknownKeysAreNamedWithTheNearestKnownOne() throws {
        let connections = try Connections.parse(Array(#"{"a": {"dns_env": "X", "dsn": "host=h", "cursor_lookback": 5, "zzzzzzzzzz": 1}}"#.utf8), file: "c.json")
        #expect(Set(connections.warnings) == [
            #"c.json: a.dns_env: unknown key ignored (did you mean "dsn_env"?)"#,
            #"c.json: a.cursor_lookback: unknown key ignored (did you mean "cursor_lookback_s"?)"#,
            "c.json: a.zzzzzzzzzz: unknown key ignored",
        ])
    }

    @Test func aQueryPolicyOtherThanReadOrWriteIsRefused() {
        #expect { try Connections.parse(Array(#"{"a": {"dsn": "h", "query": "wrtie"}}"#.utf8), file: "c.json") } throws: {
            "\($0)" == #"c.json: a.query: is not one of read, write (the value is not shown: it may be a secret)"#
        }
    }

    @Test func firstLoadIsByKeyUnlessSaidAndAnythingElseIsRefused() throws {
        let connections = try Connections.parse(Array(#"{"a": {"dsn": "h"}, "b": {"dsn": "h", "first_load": "by_cursor"}, "c": {"dsn": "h", "first_load": "by_key"}}"#.utf8), file: "c.json")
        #expect(try connections.settings(for: "a").firstLoadByKey)
        #expect(try !connections.settings(for: "b").firstLoadByKey)
        #expect(try connections.settings(for: "c").firstLoadByKey)
        #expect { try Connections.parse(Array(#"{"a": {"dsn": "h", "first_load": "bykey"}}"#.utf8), file: "c.json") } throws: {
            "\($0)" == #"c.json: a.first_load: is not one of by_key, by_cursor (the value is not shown: it may be a secret)"#
        }
    }

    @Test func lookbackAndSnapshotSettingsAreRead() throws {
        let connections = try Connections.parse(Array(#"{"a": {"dsn": "host=h", "cursor_lookback_s": 120, "cursor_lookback_values": 500, "max_snapshot_s": 5}}"#.utf8), file: "c.json")
        let a = try #require(connections.entries["a"])
        #expect(a.cursorLookbackSeconds == 120 && a.cursorLookbackValues == 500 && a.maxSnapshotSeconds == 5)
        #expect(a.clientIdleDeadlineSeconds == 65)
        #expect(throws: ConfigError.self) { try Connections.parse(Array(#"{"a": {"dsn": "h", "max_snapshot_s": 0}}"#.utf8), file: "c.json") }
    }

    @Test func aJobWhoseKindDiffersFromItsConnectionIsRefusedNamingBoth() throws {
        let connections = try Connections.parse(Array(#"{"erp": {"kind": "postgres", "dsn": "host=h"}}"#.utf8), file: "c.json")
        let spec = JobSpec(kbID: 1, destTable: "t", source: SourceSpec(kind: "sql_server", connectionRef: "erp", table: "t"))
        #expect { try connections.settings(for: spec) } throws: {
            "\($0)" == #"source.kind: "sql_server" does not match connection "erp", which is "postgres" in c.json"#
        }
    }

    @Test func aMissingRefNamesTheRefAndTheFile() throws {
        let connections = try Connections.parse(Array(#"{"erp": {"dsn": "x"}}"#.utf8), file: "/etc/timbal/connections.json")
        #expect { try connections.settings(for: "crm") } throws: {
            "\($0)" == #"source.connection_ref: "crm" is not defined in /etc/timbal/connections.json (it defines "erp")"#
        }
    }

    @Test func anAllowListLimitsWhatJobsMayRead() throws {
        let connections = try Connections.parse(Array(#"{"erp": {"dsn": "x", "allow": {"schemas": ["sales"], "tables": ["public.orders", "hr.*"]}}, "open": {"dsn": "y"}}"#.utf8), file: "c.json")
        func spec(_ ref: String, _ schema: String, _ table: String) -> JobSpec {
            JobSpec(kbID: 1, destTable: "t", source: SourceSpec(connectionRef: ref, table: table, schema: schema))
        }
        #expect(try connections.settings(for: spec("erp", "public", "orders")).name == "erp")
        #expect(try connections.settings(for: spec("erp", "sales", "anything")).name == "erp")
        #expect(try connections.settings(for: spec("erp", "hr", "people")).name == "erp")
        #expect(try connections.settings(for: spec("open", "secret", "keys")).name == "open")
        #expect { try connections.settings(for: spec("erp", "public", "secrets")) } throws: {
            "\($0)" == #"source.table: public.secrets is not allowed by connection "erp" in c.json (it allows sales.*, public.orders, hr.*)"#
        }
        #expect { try Connections.parse(Array(#"{"erp": {"dsn": "x", "allow": {"tables": ["orders"]}}}"#.utf8), file: "c.json") } throws: {
            "\($0)" == #"c.json: erp.allow.tables: "orders" should be schema.table or schema.*"#
        }
    }

    @Test func theDSNCanComeFromAFileOrTheEnvironment() throws {
        let path = NSTemporaryDirectory() + "dsn-\(UUID().uuidString)"
        try "postgresql://reader:s3cret@db/erp\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let fromFile = try Connections.parse(Array(#"{"erp": {"dsn_file": "\#(path)"}}"#.utf8), file: "c.json")
        #expect(try fromFile.settings(for: "erp").dsn == "postgresql://reader:s3cret@db/erp")
        setenv("TIMBAL_TEST_DSN_ENV", "service=erp", 1)
        let fromEnv = try Connections.parse(Array(#"{"erp": {"dsn_env": "TIMBAL_TEST_DSN_ENV"}}"#.utf8), file: "c.json")
        #expect(try fromEnv.settings(for: "erp").dsn == "service=erp")
        #expect { try Connections.parse(Array(#"{"erp": {"dsn_env": "TIMBAL_NOT_SET_ANYWHERE"}}"#.utf8), file: "c.json") } throws: {
            "\($0)" == "c.json: erp.dsn_env: environment variable TIMBAL_NOT_SET_ANYWHERE is not set"
        }
        #expect { try Connections.parse(Array(#"{"erp": {"dsn": "a", "dsn_env": "B"}}"#.utf8), file: "c.json") } throws: {
            "\($0)" == "c.json: erp.dsn: give only one of dsn, dsn_file, dsn_env"
        }
    }

    @Test func aNULCharacterAnywhereIsRefused() {
        for document in [#"{"erp\u0000x": {"dsn": "h"}}"#, #"{"erp": {"dsn": "h\u0000?dbname=x"}}"#,
                         #"{"erp": {"dsn": "h", "allow": {"schemas": ["a\u0000"]}}}"#, #"{"erp": {"dsn": "h", "x\u0000": 1}}"#] {
            #expect(throws: ConfigError.self, "\(document)") { try Connections.parse(Array(document.utf8), file: "c.json") }
        }
    }

    @Test func aDSNPutUnderTheWrongKeyIsNeverQuotedBack() {
        let dsn = "postgresql://reader:hunter2@db/erp"
        // A bare password too: the values of kind and query are never quoted.
        for (key, _) in [("kind", 0), ("query", 0)] {
            #expect { try Connections.parse(Array(#"{"erp": {"dsn": "x", "\#(key)": "hunter2"}}"#.utf8), file: "c.json") } throws: {
                !"\($0)".contains("hunter2")
            }
        }
        for key in ["kind", "query", "dsn_file", "dsn_env"] {
            let entry = key == "dsn_file" || key == "dsn_env" ? #"{"\#(key)": "\#(dsn)"}"# : #"{"dsn": "x", "\#(key)": "\#(dsn)"}"#
            #expect { try Connections.parse(Array(#"{"erp": \#(entry)}"#.utf8), file: "c.json") } throws: {
                "\($0)".hasPrefix("c.json: erp.\(key): ") && !"\($0)".contains("hunter2")
            }
        }
    }

    @Test func badEntriesNameTheKeyButNeverTheDSN() {
        #expect { try Connections.parse(Array(#"{"erp": {"dsn": "postgresql://u:hunter2@db/erp", "lock_timeout_ms": -1}}"#.utf8), file: "c.json") } throws: {
            "\($0)" == "c.json: erp.lock_timeout_ms: expected a whole number >= 0" && !"\($0)".contains("hunter2")
        }
        #expect { try Connections.parse(Array(#"{"erp": {"kind": "postgres"}}"#.utf8), file: "c.json") } throws: {
            "\($0)" == "c.json: erp.dsn: is required (or dsn_file, or dsn_env)"
        }
    }
}
