// The docs name only what the code has: source paths, our environment variables, our metrics.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VARIABLES } from '../../src/config/variables.js';
import { createMetrics } from '../../src/metrics/metrics.js';

const ROOT = join(import.meta.dirname, '..', '..');
const DOCS = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** Every name a variable of ours answers to (canonical names and aliases). */
const OUR_VARIABLES = new Set(VARIABLES.flatMap((v) => [v.name, ...(v.aliases ?? [])]));

/** Every file of src/ as one text, for names the code sets without a table (the CGI variables). */
function sourceText(dir = join(ROOT, 'src')): string {
  return readdirSync(dir, { withFileTypes: true })
    .map((e) => (e.isDirectory() ? sourceText(join(dir, e.name)) : readFileSync(join(dir, e.name), 'utf8')))
    .join('\n');
}

/** Repository paths a doc names (`src/...`, `test/...`, `scripts/...`, `bench/...`, also as ../src/... links). */
export function namedPaths(doc: string): string[] {
  const paths = new Set<string>();
  for (const m of doc.matchAll(/(?<![\w-])(?:\.\.\/)*((?:src|test|scripts|bench)\/[\w./-]*[\w/])/g)) {
    const path = m[1] as string;
    // Installed packages are not the repository's (scripts/sea-node's node_modules).
    if (!path.includes('node_modules')) paths.add(path);
  }
  return [...paths];
}

/** The inline code spans and the lines of shell code blocks of a doc. */
function codeSpans(doc: string): string[] {
  const spans = [...doc.matchAll(/`([^`\n]+)`/g)].map((m) => m[1] as string);
  for (const m of doc.matchAll(/```(\w*)\n([\s\S]*?)```/g))
    if (['', 'sh', 'shell', 'bash', 'console'].includes(m[1] as string)) spans.push(...(m[2] as string).split('\n'));
  return spans;
}

/**
 * Variables a doc claims are ours: `name=value` in code (a span or a shell line, the name at its
 * start or after a space, snake_case with an underscore: `exec_timeout=10s`, `mode=http fprocess=...`
 * is checked for its underscore names only, as `charset=` or `sha256=` are not variables), and the
 * first column of tables headed `variable` (a table with a `default` column lists our configuration).
 */
export function claimedVariables(doc: string): { config: string[]; other: string[] } {
  const config = new Set<string>();
  const other = new Set<string>();
  for (const span of codeSpans(doc))
    for (const m of span.matchAll(/(?:^|\s)([a-z][a-z0-9]*_[a-z0-9_]*)=/g)) config.add(m[1] as string);
  const lines = doc.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const header = (lines[i] as string).split('|').map((c) => c.trim().toLowerCase());
    if (header[1] !== 'variable' || !/^\|[-|: ]+\|$/.test(lines[i + 1] ?? '')) continue;
    const target = header.includes('default') ? config : other;
    for (i += 2; i < lines.length && (lines[i] as string).startsWith('|'); i++) {
      const first = (lines[i] as string).split('|')[1] ?? '';
      for (const m of first.matchAll(/`([A-Za-z_][\w<>*]*)`/g)) target.add(m[1] as string);
    }
  }
  return { config: [...config], other: [...other] };
}

/** Metric names a doc gives (ours only: the originals' http_request* and fwatchdog_*). */
export function namedMetrics(doc: string): string[] {
  return [
    ...new Set(
      [...doc.matchAll(/(?<![\w-])((?:http_request|fwatchdog_)[a-z0-9_]*[a-z0-9])(?![\w-])/g)].map(
        (m) => m[1] as string,
      ),
    ),
  ];
}

async function exposedMetrics(): Promise<Set<string>> {
  const metrics = createMetrics({ defaultMetrics: false });
  metrics.watchSpans({ exported: 0, queueFull: 0, exportFailed: 0 }); // the fwatchdog_trace_spans_* of tracing on
  const text = await metrics.registry.metrics();
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(m[1] as string);
    if (m[2] === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${m[1]}${suffix}`);
  }
  return names;
}

describe('the checks themselves', () => {
  const doc = [
    'See `src/log/logger.ts`, [the shape](../src/log/json-lines.ts) and test/e2e/nothing-here.test.ts.',
    'Run `exec_timeout=10s mode=http fprocess=x fwatchdog` or `curl -H "Content-Type: text/plain; charset=utf-8"`, with `sha256=<hex>`.',
    '',
    '| variable | default | meaning |',
    '|---|---|---|',
    '| `upstream_url` / `http_upstream_url` | (required) | where |',
    '',
    '| variable | value |',
    '|---|---|',
    '| `HTTP_<NAME>`, `REQUEST_METHOD` | x |',
    '',
    'Counted in `fwatchdog_exec_timeouts_total` and http_request_duration_seconds_bucket; `fwatchdog_*` and `FWATCHDOG_TEST_PORT_SHIFT` are not metrics.',
  ].join('\n');

  it('finds the paths, the claimed variables and the metrics a doc names, and nothing else', () => {
    expect(namedPaths(doc)).toEqual(['src/log/logger.ts', 'src/log/json-lines.ts', 'test/e2e/nothing-here.test.ts']);
    expect(claimedVariables(doc)).toEqual({
      config: ['exec_timeout', 'upstream_url', 'http_upstream_url'],
      other: ['HTTP_<NAME>', 'REQUEST_METHOD'],
    });
    expect(namedMetrics(doc)).toEqual(['fwatchdog_exec_timeouts_total', 'http_request_duration_seconds_bucket']);
  });
});

describe('the docs name only what the code has', () => {
  it('every src/, test/, scripts/ and bench/ path named in README.md and docs/*.md exists (or is an output .gitignore names)', () => {
    const outputs = readFileSync(join(ROOT, '.gitignore'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('/') && !l.startsWith('!') && !l.startsWith('#'))
      .map(
        (l) =>
          new RegExp(
            `^${l
              .trim()
              .replace(/^\//, '')
              .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
              .replace(/\*/g, '[^/]*')}$`,
          ),
      );
    const missing = DOCS.flatMap((f) =>
      namedPaths(readFileSync(join(ROOT, f), 'utf8'))
        .filter((p) => !existsSync(join(ROOT, p)) && !outputs.some((o) => o.test(p)))
        .map((p) => `${f}: ${p}`),
    );
    expect(missing).toEqual([]);
  });

  it('every variable the docs give as ours is one (src/config/variables.ts), and every other one in a variable table is set by the code', () => {
    const source = sourceText();
    const missing: string[] = [];
    for (const f of DOCS) {
      const { config, other } = claimedVariables(readFileSync(join(ROOT, f), 'utf8'));
      // A `name=` the code itself writes (the text access line's `trace_id=`, `span_id=`) is a log field, not a variable.
      for (const name of config)
        if (!OUR_VARIABLES.has(name) && !source.includes(`${name}=`)) missing.push(`${f}: ${name}`);
      // A pattern (HTTP_<NAME>) is checked for its fixed part.
      for (const name of other)
        if (!new RegExp(`\\b${name.split(/[<*]/)[0] as string}`).test(source)) missing.push(`${f}: ${name}`);
    }
    expect(missing).toEqual([]);
  });

  it('every http_request* and fwatchdog_* metric the docs name is exposed at /metrics', async () => {
    const exposed = await exposedMetrics();
    expect(exposed.has('http_requests_total')).toBe(true);
    const missing = DOCS.flatMap((f) =>
      namedMetrics(readFileSync(join(ROOT, f), 'utf8'))
        .filter((m) => !exposed.has(m))
        .map((m) => `${f}: ${m}`),
    );
    expect(missing).toEqual([]);
  });
});
