// Evidence lists a source query that returned no rows in its manifest but writes no Parquet file
// for it, and the build then fails reading it ("too small to be a Parquet file"). A quiet day
// (no customer at risk, no campaign running) must still give a dashboard, so this writes an
// empty Parquet file with the query's columns (from Evidence's <table>.schema.json), using the
// same duckdb-wasm that Evidence reads it with.
// Usage: node empty-tables.cjs <evidence project folder>
const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');

// Evidence's own duckdb-wasm (the one package.json pins through @evidence-dev/universal-sql).
const evidenceRequire = createRequire(require.resolve('@evidence-dev/universal-sql'));
const duckdb = evidenceRequire('@duckdb/duckdb-wasm/dist/duckdb-node-blocking');

const TYPES = { number: 'DOUBLE', string: 'VARCHAR', boolean: 'BOOLEAN', date: 'TIMESTAMP' };

(async () => {
	const project = path.resolve(process.argv[2] || '.');
	const template = path.join(project, '.evidence', 'template');
	const manifest = JSON.parse(
		fs.readFileSync(path.join(template, 'static', 'data', 'manifest.json'), 'utf8')
	);
	const missing = [];
	for (const files of Object.values(manifest.renderedFiles)) {
		for (const rel of files) {
			const file = path.join(template, rel);
			if (!fs.existsSync(file) || fs.statSync(file).size === 0) missing.push(file);
		}
	}
	if (!missing.length) return;
	const dist = path.dirname(evidenceRequire.resolve('@duckdb/duckdb-wasm'));
	const bundles = {
		mvp: { mainModule: path.join(dist, 'duckdb-mvp.wasm'), mainWorker: path.join(dist, 'duckdb-node-mvp.worker.cjs') },
		eh: { mainModule: path.join(dist, 'duckdb-eh.wasm'), mainWorker: path.join(dist, 'duckdb-node-eh.worker.cjs') }
	};
	const db = await duckdb.createDuckDB(bundles, new duckdb.VoidLogger(), duckdb.NODE_RUNTIME);
	await db.instantiate();
	const con = db.connect();
	for (const file of missing) {
		const schemaFile = file.replace(/\.parquet$/, '.schema.json');
		if (!fs.existsSync(schemaFile)) throw new Error(`${schemaFile}: missing, cannot type the empty table`);
		const columns = JSON.parse(fs.readFileSync(schemaFile, 'utf8'));
		const select = columns
			.map((c) => {
				const type = TYPES[c.evidenceType];
				if (!type) throw new Error(`${schemaFile}: column ${c.name}: unknown type ${c.evidenceType}`);
				return `NULL::${type} AS "${c.name.replaceAll('"', '""')}"`;
			})
			.join(', ');
		fs.rmSync(file, { force: true });
		con.query(`COPY (SELECT ${select} WHERE false) TO '${file.replaceAll("'", "''")}' (FORMAT PARQUET)`);
		fs.chmodSync(file, 0o644);
		console.log(`empty table written: ${path.relative(template, file)}`);
	}
})().catch((e) => {
	console.error(e.message);
	process.exit(1);
});
