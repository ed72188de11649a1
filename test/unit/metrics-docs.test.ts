// The metric table: the registry exposes exactly its rows, docs/metrics.md shows exactly its rows, and the originals' rows stay the contract.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics/metrics.js';
import { withMetricTables } from '../../src/metrics/metrics-doc.js';
import { METRIC_IDS, METRIC_TABLE, type MetricRow } from '../../src/metrics/metric-table.js';
import { withTimeout } from '../helpers/watchdog.js';

const ROWS: MetricRow[] = METRIC_IDS.map((id) => METRIC_TABLE[id]);

describe('the metric table', () => {
  it('docs/metrics.md carries the tables generated from it (run npm run docs:metrics after changing a row)', () => {
    const committed = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'metrics.md'), 'utf8');
    expect(committed).toBe(withMetricTables(committed));
    for (const row of ROWS) expect(committed).toContain(`| \`${row.name}\` |`);
  });

  it("keeps the originals' names, HELP texts, labels and buckets", () => {
    expect(ROWS.filter((r) => r.origin === 'original')).toEqual([
      {
        name: 'http_requests_total',
        type: 'counter',
        help: 'total HTTP requests processed',
        labels: ['code', 'method'],
        origin: 'original',
      },
      {
        name: 'http_request_duration_seconds',
        type: 'histogram',
        help: 'Seconds spent serving HTTP requests.',
        labels: ['code', 'method'],
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        origin: 'original',
      },
      {
        name: 'http_requests_in_flight',
        type: 'gauge',
        help: 'total HTTP requests in-flight',
        labels: [],
        origin: 'original',
      },
    ]);
  });

  for (const tracing of [false, true]) {
    it(`the registry exposes every row, and only the rows, with its type, HELP, labels and buckets (tracing ${tracing ? 'on' : 'off'})`, async () => {
      const metrics = createMetrics({ defaultMetrics: false });
      if (tracing) metrics.watchSpans({ exported: 3, queueFull: 1, exportFailed: 2 });
      const rows = ROWS.filter((r) => tracing || r.tracingOnly !== true);
      metrics.requestStarted();
      metrics.requestFinished('GET', 200, 0.01);
      metrics.refused('auth');
      metrics.queueWaited(0.02);
      const text = await withTimeout(metrics.registry.metrics(), 5000, 'scrape');
      const exposed = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]);
      expect(exposed).toEqual(rows.map((r) => [r.name, r.type]));
      for (const row of rows) {
        expect(text).toContain(`# HELP ${row.name} ${row.help}\n`);
        const sample = new RegExp(`^${row.name}(?:_bucket|_sum|_count)?(?:\\{([^}]*)\\})? `, 'gm');
        const labelSets = [...text.matchAll(sample)].map((m) =>
          (m[1] ?? '')
            .split(',')
            .filter((l) => l !== '')
            .map((l) => l.slice(0, l.indexOf('=')))
            .filter((l) => l !== 'le'),
        );
        expect(labelSets.length, row.name).toBeGreaterThan(0);
        for (const labels of labelSets) expect(labels, row.name).toEqual(row.labels);
        if (row.buckets === undefined) continue;
        const les = [...text.matchAll(new RegExp(`^${row.name}_bucket\\{le="([^"]+)"`, 'gm'))].map((m) => m[1]);
        expect([...new Set(les)], row.name).toEqual([...row.buckets.map(String), '+Inf']);
      }
    });
  }
});
