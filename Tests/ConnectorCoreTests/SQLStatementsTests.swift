import ConnectorCore
import Testing

@Suite("Splitting a query batch into statements")
struct SQLStatementsTests {
    @Test func splitsAtTopLevelSemicolonsOnly() {
        #expect(SQLStatements.split("SELECT 1; SELECT 2") == ["SELECT 1", "SELECT 2"])
        #expect(SQLStatements.split("SELECT 'a;b'; SELECT \"x;y\" FROM t") == ["SELECT 'a;b'", "SELECT \"x;y\" FROM t"])
        #expect(SQLStatements.split("SELECT 'it''s;'; SELECT 2") == ["SELECT 'it''s;'", "SELECT 2"])
        #expect(SQLStatements.split("SELECT E'\\';'; SELECT 2") == ["SELECT E'\\';'", "SELECT 2"])
        #expect(SQLStatements.split("SELECT $$;$$, $f$ $$; $f$; SELECT $1") == ["SELECT $$;$$, $f$ $$; $f$", "SELECT $1"])
        #expect(SQLStatements.split("SELECT 1 -- x; y\n; SELECT /* a /* b; */ c; */ 2") == ["SELECT 1 -- x; y", "SELECT /* a /* b; */ c; */ 2"])
    }

    @Test func dropsEmptyStatementsAndComments() {
        #expect(SQLStatements.split(" ; ;SELECT 1;; -- only a comment\n ; /* and this */ ") == ["SELECT 1"])
        #expect(SQLStatements.split("-- nothing").isEmpty)
        #expect(SQLStatements.split("").isEmpty)
    }

    @Test func anUnterminatedQuoteKeepsTheRestInOneStatement() {
        // The server then refuses the piece; nothing after the quote runs on its own.
        #expect(SQLStatements.split("SELECT 'open; DROP TABLE t") == ["SELECT 'open; DROP TABLE t"])
    }
}
