import Foundation
import Testing
@testable import ConnectorCore

@Suite("Job spec decoding")
struct JobSpecDecodingTests {
    let minimal = #"{"kb_id": 7, "dest_table": "events", "source": {"kind": "postgres", "connection_ref": "erp", "table": "events"}}"#

    @Test func appliesTheContractDefaults() throws {
        let spec = try JobSpec.decode(json: minimal)
        #expect(spec.kbID == 7)
        #expect(spec.destTable == "events")
        #expect(spec.source.schema == "public")
        #expect(spec.source.cursorColumn == nil)
        #expect(spec.source.columns == nil)
        #expect(spec.batchRows == 5000)
        #expect(spec.mode == .create)
        #expect(spec.placement == .hosted)
        #expect(spec.cursor == nil)
        #expect(spec.keyColumns.isEmpty)
        #expect(spec.pacing == Pacing())
    }

    @Test func treatsNullAsTheDefaultAndIgnoresUnknownFields() throws {
        let spec = try JobSpec.decode(json: """
            {"kb_id": 1, "dest_table": "t", "batch_rows": null, "mode": null, "placement": null, "cursor": null,
             "key_columns": null, "pacing": null, "future_field": {"x": 1},
             "source": {"kind": "postgres", "connection_ref": "c", "table": "t", "schema": null,
                        "cursor_column": null, "columns": null, "also_unknown": true}}
            """)
        #expect(spec.batchRows == 5000)
        #expect(spec.mode == .create)
        #expect(spec.placement == .hosted)
        #expect(spec.source.schema == "public")
    }

    @Test func decodesEveryField() throws {
        let spec = try JobSpec.decode(json: """
            {"kb_id": 9007199254740993, "dest_table": "orders", "batch_rows": 250, "mode": "upsert",
             "key_columns": ["id"], "placement": "local",
             "cursor": {"kind": "timestamp", "value": "2026-06-01T00:00:00Z"},
             "pacing": {"max_rows_per_sec": 1000, "batch_delay_ms": 50, "max_dop": 2, "read_uncommitted": true},
             "source": {"kind": "postgres", "connection_ref": "erp", "table": "orders", "schema": "sales",
                        "cursor_column": "updated_at", "columns": ["id", "total"]}}
            """)
        #expect(spec.kbID == 9007199254740993)
        #expect(spec.batchRows == 250)
        #expect(spec.mode == .upsert)
        #expect(spec.keyColumns == ["id"])
        #expect(spec.placement == .local)
        #expect(spec.cursor == Checkpoint(kind: "timestamp", column: nil, value: "2026-06-01T00:00:00Z"))
        #expect(spec.pacing == Pacing(maxRowsPerSec: 1000, batchDelayMs: 50, maxDop: 2, readUncommitted: true))
        #expect(spec.source.schema == "sales")
        #expect(spec.source.cursorColumn == "updated_at")
        #expect(spec.source.columns == ["id", "total"])
    }

    @Test func batchRowsZeroMeansTheDefaultAndHugeIsCapped() throws {
        let zero = try JobSpec.decode(json: minimal.replacingOccurrences(of: "\"kb_id\": 7", with: "\"kb_id\": 7, \"batch_rows\": 0"))
        #expect(zero.requestedBatchRows == 0)
        #expect(zero.batchRows == JobSpec.defaultBatchRows)
        let huge = try JobSpec.decode(json: minimal.replacingOccurrences(of: "\"kb_id\": 7", with: "\"kb_id\": 7, \"batch_rows\": 2000000000"))
        #expect(huge.batchRows == JobSpec.maxBatchRows)
    }

    static let invalid: [(String, String)] = [
        (#"{"dest_table": "t", "source": {"kind": "postgres", "connection_ref": "c", "table": "t"}}"#, "kb_id: is required"),
        (#"{"kb_id": "7", "dest_table": "t", "source": {"kind": "postgres", "connection_ref": "c", "table": "t"}}"#, "kb_id: expected an int64, got a string"),
        (#"{"kb_id": 1.5, "dest_table": "t", "source": {"kind": "postgres", "connection_ref": "c", "table": "t"}}"#, "kb_id: expected an int64, got 1.5"),
        (#"{"kb_id": 1, "source": {"kind": "postgres", "connection_ref": "c", "table": "t"}}"#, "dest_table: is required"),
        (#"{"kb_id": 1, "dest_table": "", "source": {"kind": "postgres", "connection_ref": "c", "table": "t"}}"#, "dest_table: must not be empty"),
        (#"{"kb_id": 1, "dest_table": "_timbal_jobs", "source": {"kind": "postgres", "connection_ref": "c", "table": "t"}}"#, #"dest_table: names starting with "_timbal_" or "sqlite_" are reserved"#),
        (#"{"kb_id": 1, "dest_table": "t"}"#, "source: is required"),
        (#"{"kb_id": 1, "dest_table": "t", "source": []}"#, "source: expected an object, got an array"),
        (#"{"kb_id": 1, "dest_table": "t", "source": {"connection_ref": "c", "table": "t"}}"#, "source.kind: is required"),
        (#"{"kb_id": 1, "dest_table": "t", "source": {"kind": "oracle", "connection_ref": "c", "table": "t"}}"#, #"source.kind: "oracle" is not one of postgres, sql_server, mysql"#),
        (#"{"kb_id": 1, "dest_table": "t", "source": {"kind": "postgres", "table": "t"}}"#, "source.connection_ref: is required"),
        (#"{"kb_id": 1, "dest_table": "t", "source": {"kind": "postgres", "connection_ref": "c"}}"#, "source.table: is required"),
        (#"{"kb_id": 1, "dest_table": "t", "source": {"kind": "postgres", "connection_ref": "c", "table": "t", "schema": ""}}"#, "source.schema: must not be empty"),
        (#"{"kb_id": 1, "dest_table": "t", "source": {"kind": "postgres", "connection_ref": "c", "table": "t", "cursor_column": ""}}"#, "source.cursor_column: must not be empty"),
        (#"{"kb_id": 1, "dest_table": "t", "source": {"kind": "postgres", "connection_ref": "c", "table": "t", "columns": []}}"#, "source.columns: must not be empty (omit it to mean all columns)"),
        (#"{"kb_id": 1, "dest_table": "t", "source": {"kind": "postgres", "connection_ref": "c", "table": "t", "columns": ["a", "a"]}}"#, #"source.columns[1]: "a" is listed twice"#),
        (#"{"kb_id": 1, "dest_table": "t", "source": {"kind": "postgres", "connection_ref": "c", "table": "t", "columns": ["a", 3]}}"#, "source.columns[1]: expected a string, got a number"),
        (#"{"kb_id": 1, "dest_table": "t", "batch_rows": -1, "source": {"kind": "postgres", "connection_ref": "c", "table": "t"}}"#, "batch_rows: must be >= 0, got -1"),
        (#"{"kb_id": 1, "dest_table": "t", "batch_rows": 3000000000, "source": {"kind": "postgres", "connection_ref": "c", "table": "t"}}"#, "batch_rows: must be <= 2147483647, got 3000000000"),
        (#"{"kb_id": 1, "dest_table": "t", "mode": "merge", "source": {"kind": "postgres", "connection_ref": "c", "table": "t"}}"#, #"mode: "merge" is not one of create, append, replace, upsert"#),
        (#"{"kb_id": 1, "dest_table": "t", "mode": "upsert", "source": {"kind": "postgres", "connection_ref": "c", "table": "t"}}"#, "key_columns: mode upsert needs at least one key column"),
        (#"{"kb_id": 1, "dest_table": "t", "key_columns": "id", "source": {"kind": "postgres", "connection_ref": "c", "table": "t"}}"#, "key_columns: expected an array of strings, got a string"),
        (#"{"kb_id": 1, "dest_table": "t", "placement": "cloud", "source": {"kind": "postgres", "connection_ref": "c", "table": "t"}}"#, #"placement: "cloud" is not one of hosted, local"#),
        (#"{"kb_id": 1, "dest_table": "t", "pacing": {"max_rows_per_sec": -5}, "source": {"kind": "postgres", "connection_ref": "c", "table": "t"}}"#, "pacing.max_rows_per_sec: must be >= 0, got -5"),
        (#"{"kb_id": 1, "dest_table": "t", "pacing": {"batch_delay_ms": -1}, "source": {"kind": "postgres", "connection_ref": "c", "table": "t"}}"#, "pacing.batch_delay_ms: must be >= 0, got -1"),
        (#"{"kb_id": 1, "dest_table": "t", "pacing": {"max_dop": -1}, "source": {"kind": "postgres", "connection_ref": "c", "table": "t"}}"#, "pacing.max_dop: must be >= 0, got -1"),
        (#"{"kb_id": 1, "dest_table": "t", "pacing": {"read_uncommitted": "yes"}, "source": {"kind": "postgres", "connection_ref": "c", "table": "t"}}"#, "pacing.read_uncommitted: expected a boolean, got a string"),
        (#"{"kb_id": 1, "dest_table": "t", "cursor": {"value": "x"}, "source": {"kind": "postgres", "connection_ref": "c", "table": "t", "cursor_column": "u"}}"#, "cursor.kind: is required"),
        (#"{"kb_id": 1, "dest_table": "t", "cursor": {"kind": "timestamp"}, "source": {"kind": "postgres", "connection_ref": "c", "table": "t", "cursor_column": "u"}}"#, "cursor.value: is required"),
        (#"{"kb_id": 1, "dest_table": "t", "cursor": {"kind": "timestamp", "value": "x"}, "source": {"kind": "postgres", "connection_ref": "c", "table": "t"}}"#, "cursor: a resume cursor needs source.cursor_column"),
        (#"{"kb_id": 1, "dest_table": "t", "source": {"kind": "postgres", "connection_ref": "c", "table": "t"}"#, "job: invalid JSON at byte 99: unexpected end of input"),
    ]

    @Test(arguments: invalid)
    func rejectsInvalidSpecsNamingTheField(json: String, message: String) {
        #expect {
            try JobSpec.decode(json: json)
        } throws: { error in
            "\(error)" == message
        }
    }

    @Test func checkpointRoundTripsThroughJSON() throws {
        let checkpoint = Checkpoint(kind: "timestamptz", column: "updated_at", value: "2026-06-01 00:00:00.000001+00",
                                    tiebreaker: [.init(column: "id", value: "42"), .init(column: "Region \"x\"", value: "eu")])
        let text = checkpoint.json.serialized()
        #expect(try Checkpoint.decode(json: text, field: "cursor") == checkpoint)
        let nullPass = Checkpoint(kind: "integer", column: "n", value: nil, tiebreaker: [.init(column: "id", value: "1")], nullCursorPass: true)
        #expect(try Checkpoint.decode(json: nullPass.json.serialized(), field: "cursor") == nullPass)
    }

    @Test func aFirstLoadByKeyCheckpointRoundTripsAndIsCheckedByName() throws {
        var byKey = Checkpoint(kind: "timestamptz", column: "updated_at", value: "2026-06-01 00:00:00+00")
        byKey.keyPass = [.init(column: "id", value: "42")]
        byKey.rereadFrom = "2026-05-31 23:59:00+00"
        #expect(try Checkpoint.decode(json: byKey.json.serialized(), field: "cursor") == byKey)
        #expect(byKey.summary == "first load by key at id=42, then updated_at from 2026-06-01 00:00:00+00")
        // No row had a cursor value when the load began: the mark is null, which a key pass allows.
        let noMark = try Checkpoint.decode(json: #"{"kind": "timestamptz", "column": "updated_at", "value": null, "key_pass": []}"#, field: "cursor")
        #expect(noMark.value == nil && noMark.keyPass == [])
        #expect {
            try Checkpoint.decode(json: #"{"kind": "integer", "value": 1, "key_pass": {"id": 1}}"#, field: "cursor")
        } throws: { "\($0)" == "cursor.key_pass: expected an array, got an object" }
        #expect {
            try Checkpoint.decode(json: #"{"kind": "integer", "value": 1, "key_pass": [{"column": "id"}]}"#, field: "cursor")
        } throws: { "\($0)" == "cursor.key_pass[0].value: expected a string or a number" }
        #expect {
            try Checkpoint.decode(json: #"{"kind": "integer", "value": 1, "key_pass": [], "tiebreaker": [{"column": "id", "value": 1}]}"#, field: "cursor")
        } throws: { "\($0)" == "cursor.key_pass: a first load by key has no tiebreaker and no NULL pass" }
    }

    @Test func checkpointKeepsNumbersExact() throws {
        let checkpoint = try Checkpoint.decode(json: #"{"kind": "numeric", "value": 12345678901234567890.123456789012}"#, field: "cursor")
        #expect(checkpoint.value == "12345678901234567890.123456789012")
    }
}

@Suite("Job spec decoding: NUL characters")
struct JobSpecNULTests {
    @Test func aNULInAnyNameIsRefusedNamingTheField() {
        let cases = [
            (#"{"kb_id": 1, "dest_table": "t", "source": {"kind": "postgres", "connection_ref": "pg\u0000", "table": "t"}}"#, "source.connection_ref"),
            (#"{"kb_id": 1, "dest_table": "t", "source": {"kind": "postgres", "connection_ref": "pg", "table": "t", "columns": ["a\u0000"]}}"#, "source.columns[0]"),
            (#"{"kb_id": 1, "dest_table": "t", "key_columns": ["k\u0000"], "source": {"kind": "postgres", "connection_ref": "pg", "table": "t"}}"#, "key_columns[0]"),
        ]
        for (json, field) in cases {
            #expect { try JobSpec.decode(json: json) } throws: { "\($0)" == "\(field): must not contain a NUL character" }
        }
    }

    @Test func anUnknownCursorKindIsRefusedNamingTheKindsAllowed() throws {
        let body = #"{"kb_id": 1, "dest_table": "t", "cursor": {"kind": "banana", "value": "1"}, "source": {"kind": "postgres", "connection_ref": "c", "table": "t", "cursor_column": "u"}}"#
        #expect {
            try JobSpec.decode(json: body)
        } throws: { error in
            (error as? JobSpecError)?.field == "cursor.kind" && "\(error)".contains("timestamptz")
        }
        let platformExample = body.replacingOccurrences(of: "banana", with: "timestamp")
        #expect(try JobSpec.decode(json: platformExample).cursor?.kind == "timestamp")
    }
}
