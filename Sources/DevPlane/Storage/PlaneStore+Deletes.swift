import SQLiteStore

extension PlaneStore {
    /// Adds what a hosted job's reconcile batch removed or marked to the job's `rows_deleted`.
    func addRowsDeleted(jobID: String, _ count: Int64) throws {
        try lock.withLock {
            try database.execute("UPDATE jobs SET rows_deleted = coalesce(rows_deleted, 0) + ? WHERE id = ?", [.integer(count), .text(jobID)])
        }
    }
}
