#!/usr/bin/env python3
"""ADBC peer for bench/any-order.sh: Postgres -> SQLite through the ADBC drivers (pip install
adbc-driver-postgresql adbc-driver-sqlite pyarrow). Streams the rows of QUERY (read by the
Postgres driver with COPY ... binary) into a new SQLite table through the SQLite driver's bulk
ingest, one Arrow record batch at a time.

Usage: bench/adbc.py DSN SQLITE_FILE TABLE QUERY   (prints the rows ingested)
"""
import sys

import adbc_driver_postgresql.dbapi as pg
import adbc_driver_sqlite.dbapi as lite

dsn, path, table, query = sys.argv[1:5]
with pg.connect(dsn) as source, lite.connect(path) as dest:
    with source.cursor() as read, dest.cursor() as write:
        read.execute(query)
        rows = write.adbc_ingest(table, read.fetch_record_batch(), mode="create")
    dest.commit()
print(rows)
