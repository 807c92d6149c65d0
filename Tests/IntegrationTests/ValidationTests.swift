import ConnectorCore
import Foundation
import PostgresClient
import Testing

@Suite("Validation against the catalog", .enabled(if: TestDatabase.isAvailable, TestDatabase.skipReason))
struct ValidationTests {
    @Test func catalogProblemsNameTheFieldAndTheTable() throws {
        let scratch = try Scratch()
        try scratch.sql("""
            CREATE TABLE {s}.events (id int PRIMARY KEY, updated_at timestamptz, payload json, amount numeric);
            CREATE TABLE {s}.nokey (updated_at timestamptz, x int);
            CREATE VIEW {s}.keyless AS SELECT updated_at AS u, x FROM {s}.nokey;
            """)
        let s = scratch.schema
        let cases: [(JobSpec, String)] = [
            (scratch.spec(table: "events", columns: ["id", "amout"]), #"source.columns: column "amout" not found in \#(s).events"#),
            (scratch.spec(table: "events", cursor: "changed"), #"source.cursor_column: column "changed" not found in \#(s).events"#),
            (scratch.spec(table: "events", keyColumns: ["uid"]), #"key_columns: column "uid" not found in \#(s).events"#),
            (scratch.spec(table: "evnts"), #"source.table: table "evnts" not found in schema "\#(s)""#),
            (scratch.spec(table: "events", cursor: "payload"), #"source.cursor_column: column "payload" has type json, which has no ordering; choose a sortable column"#),
            (scratch.spec(table: "nokey"), #"source.cursor_column: column "updated_at" is not unique and \#(s).nokey has no primary key to break ties; use a unique NOT NULL cursor column, add a primary key, or name unique key_columns"#),
            // (A snapshot of "nokey", with no cursor, is a keyless snapshot: KeylessSnapshotTests.)
            // key_columns break ties on a view, but a nullable cursor with itself as the only key leaves NULL rows unpageable.
            (scratch.spec(table: "keyless", cursor: "u", keyColumns: ["u"]), #"source.cursor_column: column "u" may be NULL and \#(s).keyless has no primary key to break ties; use a unique NOT NULL cursor column, add a primary key, or name unique key_columns"#),
            (scratch.spec(table: "keyless", cursor: "u", keyColumns: ["nope"]), #"key_columns: column "nope" not found in \#(s).keyless"#),
            (scratch.spec(table: "events", resume: Checkpoint(kind: "uuid", column: nil, value: "3")), #"cursor.kind: "uuid" does not fit column "updated_at" (timestamp with time zone); expected "timestamptz""#),
            (scratch.spec(table: "events", resume: Checkpoint(kind: "integer", column: "id", value: "3")), #"cursor.column: the checkpoint is for column "id" but source.cursor_column is "updated_at""#),
            (scratch.spec(table: "events", resume: Checkpoint(kind: "timestamptz", column: nil, value: "1", tiebreaker: [.init(column: "x", value: "1")])), #"cursor.tiebreaker: columns (x) do not match the tie-breaker (id)"#),
        ]
        for (spec, message) in cases {
            #expect { try scratch.extract(spec) } throws: { "\($0)" == message }
        }
        var missingSchema = scratch.spec(table: "events")
        missingSchema.source.schema = "no_such_schema"
        #expect { try scratch.extract(missingSchema) } throws: { "\($0)" == #"source.schema: schema "no_such_schema" not found"# }
        // Nothing was written for any of them.
        #expect(try LocalKB(stateDir: scratch.stateDir, kbID: 1).database.rows("SELECT count(*) FROM _timbal_jobs").first == [.integer(0)])
    }

    @Test func aBadCursorValueIsRefusedByNameWithTheServersMessage() throws {
        let scratch = try Scratch()
        try scratch.sql("CREATE TABLE {s}.events (id int PRIMARY KEY, updated_at timestamptz)")
        let spec = scratch.spec(table: "events", resume: Checkpoint(kind: "timestamp", column: nil, value: "yesterday-ish"))
        #expect { try scratch.extract(spec) } throws: {
            ($0 as? JobSpecError)?.field == "cursor.value" && "\($0)".contains("invalid input syntax for type timestamp with time zone")
        }
    }

    @Test func hostileIdentifiersAreQuotedEverywhere() throws {
        let scratch = try Scratch(schemaName: "We\"ird; Schema")
        try scratch.sql("""
            CREATE TABLE {s}."Tab""le; DROP TABLE x; --" ("Id" int PRIMARY KEY, "Updated At" timestamptz NOT NULL,
                "semi;colon" text, "quo""te" text, "MixedCase" int, "select" text);
            INSERT INTO {s}."Tab""le; DROP TABLE x; --" SELECT g, now() - g * interval '1 s', 'a;b', 'q"q', g, 'kw'
            FROM generate_series(1, 25) g;
            """)
        let table = "Tab\"le; DROP TABLE x; --"
        let spec = scratch.spec(table: table, dest: "dest \"table\"; --", cursor: "Updated At", batchRows: 4,
                                columns: ["semi;colon", "quo\"te", "MixedCase", "select"], keyColumns: ["Id"])
        let result = try scratch.extract(spec)
        #expect(result.rowsLanded == 25)
        #expect(try scratch.kbIntegers("MixedCase", table: "dest \"table\"; --") == Array(1...25))
        #expect(try scratch.kb().rows("SELECT DISTINCT \"quo\"\"te\", \"semi;colon\" FROM \"dest \"\"table\"\"; --\"").first == [.text("q\"q"), .text("a;b")])
    }

    @Test func sourceSessionsAreReadOnlyAndNamedForTheDBA() throws {
        let scratch = try Scratch()
        try scratch.sql("CREATE TABLE {s}.events (id int PRIMARY KEY)")
        let session = try SourceSession.open(scratch.connection, jobID: "job-42")
        #expect { try session.execute("INSERT INTO \(scratch.table("events")) VALUES (1)") } throws: {
            ($0 as? PostgresError)?.sqlState == "25006"
        }
        let seen = try scratch.admin.query(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", ["timbal-connector job=job-42"])
        #expect(seen.string(0, 0) == "1")
    }

    @Test func maxDopCapsTheSessionsParallelWorkers() throws {
        let scratch = try Scratch()
        let capped = try SourceSession.open(scratch.connection, jobID: "dop", pacing: Pacing(maxDop: 3))
        #expect(try capped.execute("SHOW max_parallel_workers_per_gather").string(0, 0) == "2")
        let serial = try SourceSession.open(scratch.connection, jobID: "dop", pacing: Pacing(maxDop: 1))
        #expect(try serial.execute("SHOW max_parallel_workers_per_gather").string(0, 0) == "0")
        let untouched = try SourceSession.open(scratch.connection, jobID: "dop")
        let server = try scratch.admin.execute("SHOW max_parallel_workers_per_gather").string(0, 0)
        #expect(try untouched.execute("SHOW max_parallel_workers_per_gather").string(0, 0) == server)
        #expect(try untouched.execute("SHOW default_transaction_read_only").string(0, 0) == "on")
        #expect(try untouched.execute("SHOW TimeZone").string(0, 0) == "UTC")
    }

    @Test func connectionErrorsNeverQuoteThePassword() throws {
        let settings = ConnectionSettings(name: "bad", dsn: "postgresql://reader:hunter2-secret@127.0.0.1:1/erp", connectTimeoutSeconds: 2)
        #expect { try SourceSession.open(settings, jobID: "x") } throws: { error in
            let text = "\(error) \(String(reflecting: error))"
            return text.contains("could not connect") && !text.contains("hunter2-secret")
        }
    }
}
