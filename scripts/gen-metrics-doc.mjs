// Writes the tables of docs/metrics.md from the metric table (src/metrics/metric-table.ts); test/unit/metrics-docs.test.ts checks them.
import { build } from 'esbuild';
import { readFileSync, writeFileSync } from 'node:fs';

const out = await build({
  entryPoints: ['src/metrics/metrics-doc.ts'],
  bundle: true,
  platform: 'node',
  format: 'esm',
  write: false,
  logLevel: 'warning',
});
const { withMetricTables } = await import(
  `data:text/javascript;base64,${Buffer.from(out.outputFiles[0].text).toString('base64')}`
);
const file = new URL('../docs/metrics.md', import.meta.url);
writeFileSync(file, withMetricTables(readFileSync(file, 'utf8')));
process.stdout.write('docs/metrics.md: tables written from src/metrics/metric-table.ts\n');
