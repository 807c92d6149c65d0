#include <sqlite3.h>

/* sqlite3_config is variadic, which Swift cannot call: these wrappers pin the arguments. */

/* Memory statistics take a global mutex on every allocation; the connector never reads them. */
static inline int csqlite_disable_memory_statistics(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}
