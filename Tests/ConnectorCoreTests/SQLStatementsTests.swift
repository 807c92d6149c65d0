@testable import ConnectorCore
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

    @Test func aLineCommentEndsAtCRAsTheServerSays() {
        #expect(SQLStatements.split("SELECT 1 --x\rCOMMIT; SELECT 2") == ["SELECT 1 --x\rCOMMIT", "SELECT 2"])
    }

    @Test func anUnterminatedQuoteKeepsTheRestInOneStatement() {
        // The server then refuses the piece; nothing after the quote runs on its own.
        #expect(SQLStatements.split("SELECT 'open; DROP TABLE t") == ["SELECT 'open; DROP TABLE t"])
    }
}

@Suite("What an ad-hoc statement may not be")
struct StatementGuardTests {
    @Test func leadingWordsAreReadAsTheServerLexesThem() {
        #expect(StatementGuard.leadingWords("-- note\r\nCOMMIT AND CHAIN", count: 2) == ["COMMIT", "AND"])
        #expect(StatementGuard.leadingWords("--x\rCOMMIT\nAND CHAIN", count: 2) == ["COMMIT", "AND"])
        #expect(StatementGuard.leadingWords("/* a /* b */ c */\n\tcommit", count: 1) == ["COMMIT"])
        #expect(StatementGuard.leadingWords("SET transaction_read_only = off", count: 3) == ["SET", "TRANSACTION_READ_ONLY"])
    }

    @Test func transactionControlCopyAndLockAreRefused() {
        for statement in ["COMMIT AND CHAIN", "-- c\r\nrollback", "--x\rEND", "savepoint a", "PREPARE TRANSACTION 'x'",
                          "SET TRANSACTION READ WRITE", "set session characteristics as transaction read write",
                          "SET transaction_read_only = off", "SET LOCAL default_transaction_read_only TO off", "COPY t TO STDOUT"] {
            #expect(StatementGuard.refusal(statement, mode: .write) != nil, "\(statement)")
        }
        #expect(StatementGuard.refusal("LOCK t", mode: .read) != nil)
        #expect(StatementGuard.refusal("LOCK t", mode: .write) == nil)
        for statement in ["SELECT 1", "SET search_path = x", "WITH a AS (SELECT 1) SELECT * FROM a", "PREPARE p AS SELECT 1"] {
            #expect(StatementGuard.refusal(statement, mode: .read) == nil, "\(statement)")
        }
        #expect(StatementGuard.forbiddenTag("COMMIT") && StatementGuard.forbiddenTag("COPY 3") && !StatementGuard.forbiddenTag("SELECT 5"))
    }
}
