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

    @Test func aMissingRefNamesTheRefAndTheFile() throws {
        let connections = try Connections.parse(Array(#"{"erp": {"dsn": "x"}}"#.utf8), file: "/etc/timbal/connections.json")
        #expect { try connections.settings(for: "crm") } throws: {
            "\($0)" == #"source.connection_ref: "crm" is not defined in /etc/timbal/connections.json (it defines "erp")"#
        }
    }

    @Test func badEntriesNameTheKeyButNeverTheDSN() {
        #expect { try Connections.parse(Array(#"{"erp": {"dsn": "postgresql://u:hunter2@db/erp", "lock_timeout_ms": -1}}"#.utf8), file: "c.json") } throws: {
            "\($0)" == "c.json: erp.lock_timeout_ms: expected a whole number >= 0" && !"\($0)".contains("hunter2")
        }
        #expect { try Connections.parse(Array(#"{"erp": {"kind": "postgres"}}"#.utf8), file: "c.json") } throws: {
            "\($0)" == "c.json: erp.dsn: is required"
        }
    }
}
