// The tables of docs/metrics.md, made from METRIC_TABLE (npm run docs:metrics; test/unit/metrics-docs.test.ts checks them).
import { METRIC_IDS, METRIC_TABLE, type MetricRow } from './metric-table.js';

const SOURCE = 'generated from src/metrics/metric-table.ts by `npm run docs:metrics`: edit the table, not these lines';

/** `.005 .01 ... 10 +Inf`, as the docs write bucket bounds. */
function bucketText(buckets: readonly number[]): string {
  return [...buckets.map((b) => String(b).replace(/^0\./, '.')), '+Inf'].join(' ');
}

function typeCell(row: MetricRow): string {
  return row.buckets === undefined ? row.type : `${row.type}, buckets \`${bucketText(row.buckets)}\``;
}

const labelCell = (row: MetricRow): string => row.labels.map((l) => `\`${l}\``).join(', ');
/** A table cell's text: a `|` would end the cell. */
const cell = (text: string): string => text.replace(/\|/g, '\\|');

function rowsOf(origin: MetricRow['origin']): MetricRow[] {
  return METRIC_IDS.map((id) => METRIC_TABLE[id] as MetricRow).filter((row) => row.origin === origin);
}

/** The table of the originals' metrics, and the one of fwatchdog's own. */
export function metricTables(): Record<MetricRow['origin'], string> {
  const original = [
    '| metric | type | HELP | labels |',
    '|---|---|---|---|',
    ...rowsOf('original').map((r) => `| \`${r.name}\` | ${typeCell(r)} | \`${cell(r.help)}\` | ${labelCell(r)} |`),
  ];
  const own = [
    '| metric | type | labels | HELP | meaning |',
    '|---|---|---|---|---|',
    ...rowsOf('fwatchdog').map(
      (r) => `| \`${r.name}\` | ${typeCell(r)} | ${labelCell(r)} | \`${cell(r.help)}\` | ${cell(r.doc ?? '')} |`,
    ),
  ];
  // An empty cell is written `| |`.
  return {
    original: original.join('\n').replace(/\| {2}\|/g, '| |'),
    fwatchdog: own.join('\n').replace(/\| {2}\|/g, '| |'),
  };
}

/**
 * `markdown` (docs/metrics.md) with each generated table replaced by the one the rows give now: the text
 * between `<!-- metric table: <origin> ... -->` and `<!-- end of metric table -->`. The prose around stays.
 */
export function withMetricTables(markdown: string): string {
  const tables = metricTables();
  let out = markdown;
  for (const origin of ['original', 'fwatchdog'] as const) {
    const begin = `<!-- metric table: ${origin} (${SOURCE}) -->`;
    const end = '<!-- end of metric table -->';
    const at = out.indexOf(begin);
    const endAt = at === -1 ? -1 : out.indexOf(end, at);
    if (at === -1 || endAt === -1) throw new Error(`docs/metrics.md has no "${begin}" ... "${end}" block`);
    out = `${out.slice(0, at + begin.length)}\n${tables[origin]}\n${out.slice(endAt)}`;
  }
  return out;
}
