// Parses the originals' duration values: a bare integer is seconds, anything else a Go duration.

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** The longest a Node timer can wait (2^31-1 ms, 596h31m23.647s): a longer one fires after 1 ms. */
export const MAX_TIMER_MS = 2_147_483_647;

const BARE_INT = /^\+?\d+$/;
const GO_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/** Parses `30`, `+5`, `1m30s`, `1.5s`, `500ms`; returns milliseconds, or undefined when invalid or negative. */
export function parseDurationMs(raw: string): number | undefined {
  const value = raw;
  if (value === '') return undefined;
  if (BARE_INT.test(value)) return Number(value) * 1000;
  if (value === '0') return 0;
  let s = value;
  if (s.startsWith('+')) s = s.slice(1);
  if (s === '0') return 0;
  if (s === '') return undefined;
  let total = 0;
  GO_PART.lastIndex = 0;
  let pos = 0;
  while (pos < s.length) {
    GO_PART.lastIndex = pos;
    const m = GO_PART.exec(s);
    if (!m) return undefined;
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
    pos = GO_PART.lastIndex;
  }
  return total;
}

/** Formats milliseconds the way Go's Duration.String() does: `30s`, `1m30s`, `500ms`, `0s`, `1h0m0s`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1) return `${trimFloat(ms * 1000)}µs`;
  if (ms < 1000) return `${trimFloat(ms)}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  if (h > 0) return `${h}h${m}m${trimFloat(s)}s`;
  if (m > 0) return `${m}m${trimFloat(s)}s`;
  return `${trimFloat(s)}s`;
}

function trimFloat(n: number): string {
  return String(Number(n.toFixed(9)));
}
