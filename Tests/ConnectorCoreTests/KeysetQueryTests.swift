import Testing
@testable import ConnectorCore

@Suite("Keyset queries")
struct KeysetQueryTests {
    func column(_ name: String, oid: UInt32 = 20, notNull: Bool = true, kind: ColumnKind = .integer) -> SourceColumn {
        SourceColumn(name: name, typeOID: oid, declaredType: "bigint", baseTypeName: "int8", notNull: notNull, kind: kind, orderable: true)
    }

    var table: SourceTable {
        SourceTable(schema: "public", name: "events",
                    columns: [column("id"), column("updated_at", oid: 1184, notNull: false, kind: .timestamptz), column("title", oid: 25, kind: .text)],
                    primaryKey: ["id"], uniqueColumns: ["id"], estimatedRows: 100)
    }

    func plan(cursor: String?, columns: [String]? = nil) throws -> ExtractPlan {
        let spec = JobSpec(kbID: 1, destTable: "t", source: SourceSpec(connectionRef: "c", table: "events", cursorColumn: cursor, columns: columns))
        return try ExtractPlan.make(spec: spec, table: table)
    }

    /// A checkpoint of a load by key fits only a job that can load by key, on the source's key.
    @Test func aLoadByKeyCheckpointIsCheckedAgainstThePlanNamingTheField() throws {
        var checkpoint = Checkpoint(kind: "integer", column: "updated_at", value: "100")
        checkpoint.keyPass = [Checkpoint.KeyValue(column: "id", value: "5")]
        try plan(cursor: "updated_at").validate(checkpoint, field: "cursor")
        var otherKey = checkpoint
        otherKey.keyPass = [Checkpoint.KeyValue(column: "title", value: "x")]
        #expect { try plan(cursor: "updated_at").validate(otherKey, field: "cursor") } throws: {
            "\($0)".contains("cursor.key_pass") && "\($0)".contains("do not match the source's key (id)")
        }
        var byID = Checkpoint(kind: "integer", column: "id", value: "7")
        byID.keyPass = [Checkpoint.KeyValue(column: "id", value: "5")]
        #expect { try plan(cursor: "id").validate(byID, field: "cursor") } throws: {
            "\($0)".contains("cursor.key_pass") && "\($0)".contains("cannot load by key")
        }
    }

    @Test func firstBatchOfTheValuesPassSkipsNullCursors() throws {
        let query = KeysetQuery.make(plan: try plan(cursor: "updated_at"), position: KeysetPosition(pass: .values, after: nil), limit: 10)
        #expect(query.sql == #"SELECT "id", "updated_at", "title" FROM "public"."events" WHERE "updated_at" IS NOT NULL ORDER BY "updated_at", "id" LIMIT 10"#)
        #expect(query.parameters.isEmpty)
    }

    @Test func laterBatchesUseARowComparisonWithTypedParameters() throws {
        let query = KeysetQuery.make(plan: try plan(cursor: "updated_at"), position: KeysetPosition(pass: .values, after: ["2026-01-01 00:00:00+00", "5"]), limit: 10)
        #expect(query.sql == #"SELECT "id", "updated_at", "title" FROM "public"."events" WHERE ("updated_at", "id") > ($1, $2) ORDER BY "updated_at", "id" LIMIT 10"#)
        #expect(query.parameters == ["2026-01-01 00:00:00+00", "5"])
        #expect(query.parameterTypes == [1184, 20])
        #expect(!query.sql.contains("OFFSET"))
    }

    @Test func aCursorWithoutTieBreakerResumesStrictlyAfterTheValue() throws {
        let query = KeysetQuery.make(plan: try plan(cursor: "updated_at"), position: KeysetPosition(pass: .values, after: ["2026-01-01 00:00:00+00"]), limit: 10)
        #expect(query.sql.contains(#"WHERE "updated_at" > $1 ORDER BY "updated_at", "id""#))
    }

    @Test func theNullPassPagesByTheTieBreaker() throws {
        let query = KeysetQuery.make(plan: try plan(cursor: "updated_at"), position: KeysetPosition(pass: .nullCursor, after: ["7"]), limit: 10)
        #expect(query.sql.hasSuffix(#"WHERE "updated_at" IS NULL AND "id" > $1 ORDER BY "id" LIMIT 10"#))
    }

    @Test func keysMissingFromTheProjectionAreSelectedAfterIt() throws {
        let p = try plan(cursor: "updated_at", columns: ["title"])
        let query = KeysetQuery.make(plan: p, position: .start(for: p), limit: 10)
        // The source's key joins the projection (re-read rows merge on it); the cursor is hidden after it.
        #expect(query.sql.hasPrefix(#"SELECT "title", "id", "updated_at" FROM"#))
        #expect(p.resultIndex(of: "id") == 1)
        #expect(p.resultIndex(of: "updated_at") == 2)
    }

    @Test func aSnapshotPagesByThePrimaryKey() throws {
        let p = try plan(cursor: nil)
        let query = KeysetQuery.make(plan: p, position: KeysetPosition(pass: .values, after: ["9"]), limit: 3)
        #expect(query.sql.hasSuffix(#"WHERE "id" > $1 ORDER BY "id" LIMIT 3"#))
        #expect(KeysetPosition(pass: .values, after: ["9"]).checkpoint(plan: p)?.kind == "snapshot")
    }

    @Test func unknownColumnsAreNamedWithTheirField() throws {
        #expect { try plan(cursor: "updated_at", columns: ["amout"]) } throws: {
            "\($0)" == #"source.columns: column "amout" not found in public.events"#
        }
        #expect { try plan(cursor: "nope") } throws: {
            "\($0)" == #"source.cursor_column: column "nope" not found in public.events"#
        }
    }

    @Test func anIncrementalStartReadsTheCheckpointsOwnCursorValueAgain() throws {
        let p = try plan(cursor: "updated_at")
        let start = KeysetPosition(pass: .values, after: ["2026-01-01 00:00:00+00"], inclusive: true)
        let query = KeysetQuery.make(plan: p, position: start, limit: 10)
        #expect(query.sql.contains("\"updated_at\" >= $1"))
        // The position after the first batch is exclusive again, keyed by cursor and tie-breaker.
        let next = start.advanced(to: ["2026-01-01 00:00:05+00", "9"])
        #expect(!next.inclusive)
        #expect(KeysetQuery.make(plan: p, position: next, limit: 10).sql.contains("(\"updated_at\", \"id\") > ($1, $2)"))
        // Inclusive only means something for a lone cursor value.
        #expect(!KeysetPosition(pass: .values, after: ["a", "1"], inclusive: true).inclusive)
    }

    @Test func columnsThatDifferOnlyInCaseAreRefusedNamingBoth() throws {
        let table = SourceTable(schema: "public", name: "people",
                                columns: [column("id"), column("Name", oid: 25, kind: .text), column("name", oid: 25, kind: .text)],
                                primaryKey: ["id"], uniqueColumns: ["id"], estimatedRows: 1)
        let spec = JobSpec(kbID: 1, destTable: "t", source: SourceSpec(connectionRef: "c", table: "people", cursorColumn: "id"))
        #expect {
            try ExtractPlan.make(spec: spec, table: table)
        } throws: { error in
            let text = "\(error)"
            return (error as? JobSpecError)?.field == "source.columns" && text.contains("\"Name\"") && text.contains("\"name\"")
                && text.contains("source.columns")
        }
        var projected = spec
        projected.source.columns = ["id", "Name"]
        #expect(try ExtractPlan.make(spec: projected, table: table).projection.map(\.name) == ["id", "Name"])
    }
}
