// Runs one SQL query with Node's DuckDB client and prints the rows as JSON (one array per row,
// every value as text) for tests/orchestration/publish/test_bi_clients.py.
// Usage: node read_snapshot.mjs <database file or :memory:> <sql>
import { DuckDBInstance, version } from "@duckdb/node-api";

const [file, sql] = process.argv.slice(2);
const instance = await DuckDBInstance.create(file, file === ":memory:" ? {} : { access_mode: "READ_ONLY" });
const connection = await instance.connect();
const reader = await connection.runAndReadAll(sql);
const rows = reader.getRows().map((row) => row.map((v) => (v === null ? null : String(v))));
console.log(JSON.stringify({ version: version(), rows }));
connection.closeSync();
