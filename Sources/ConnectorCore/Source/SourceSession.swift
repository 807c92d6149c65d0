import PostgresClient

/// Opens read-only source sessions with the connector's settings applied.
public enum SourceSession {
    /// `application_name` as a DBA sees it in `pg_stat_activity` (Postgres keeps 63 bytes).
    public static func applicationName(jobID: String) -> String {
        let name = "timbal-connector job=\(jobID)"
        return String(decoding: name.utf8.prefix(63), as: UTF8.self)
    }

    /// Connects and fixes the session so values print exactly and nothing can be written:
    /// ISO dates in UTC, ISO-8601 intervals, shortest exact floats, hex bytea, read-only transactions.
    public static func open(_ settings: ConnectionSettings, jobID: String, pacing: Pacing = Pacing(),
                            interrupted: (() -> Bool)? = nil) throws -> PostgresConnection {
        let overrides = [
            "application_name": applicationName(jobID: jobID),
            "keepalives": "1", "keepalives_idle": "30", "keepalives_interval": "10", "keepalives_count": "3",
        ]
        let connection = try PostgresConnection(conninfo: settings.dsn, overrides: overrides,
                                                connectTimeout: Double(settings.connectTimeoutSeconds), interrupted: interrupted)
        connection.idleDeadline = settings.clientIdleDeadlineSeconds
        var statements = [
            "SET default_transaction_read_only = on",
            "SET DateStyle = 'ISO, YMD'",
            "SET TimeZone = 'UTC'",
            "SET IntervalStyle = 'iso_8601'",
            "SET extra_float_digits = 1",
            "SET bytea_output = 'hex'",
            "SET statement_timeout = \(settings.statementTimeoutMs)",
            "SET lock_timeout = \(settings.lockTimeoutMs)",
            "SET idle_in_transaction_session_timeout = \(settings.idleInTransactionTimeoutMs)",
        ]
        if pacing.maxDop > 0 {
            // A degree of parallelism N is the leader plus N-1 workers.
            statements.append("SET max_parallel_workers_per_gather = \(pacing.maxDop - 1)")
        }
        try connection.execute(statements.joined(separator: "; "))
        return connection
    }
}
