// Runs measurements target by target in alternating rounds, so every target sees the same machine load.
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Calls `measure(target, round)` for each target, `rounds` times, rotating who goes first each
 * round. Resolves a Map target -> array of results. A target whose measure throws gets its error
 * recorded (as { error }) and is skipped in later rounds.
 */
export async function alternate(targets, rounds, measure) {
  const results = new Map(targets.map((t) => [t, []]));
  const failed = new Set();
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < targets.length; i++) {
      const target = targets[(i + round) % targets.length];
      if (failed.has(target)) continue;
      try {
        results.get(target).push(await measure(target, round));
      } catch (err) {
        failed.add(target);
        results.get(target).push({ error: err instanceof Error ? err.message : String(err) });
      }
      // A short pause so one target's leftovers (closing sockets, exiting children) do not bill the next.
      await sleep(100);
    }
  }
  return results;
}

/** Sums requests over seconds and averages the latency percentiles of autocannon segments. */
export function combineRates(segments) {
  const ok = segments.filter((s) => s.error === undefined);
  const error = segments.find((s) => s.error !== undefined)?.error;
  if (ok.length === 0) return { error: error ?? 'no measurement' };
  const seconds = ok.reduce((a, s) => a + s.seconds, 0);
  const requests = ok.reduce((a, s) => a + s.requests, 0);
  const mean = (k) => ok.reduce((a, s) => a + s[k], 0) / ok.length;
  return {
    reqPerSec: requests / seconds,
    p50Ms: mean('p50Ms'),
    p99Ms: mean('p99Ms'),
    errors: ok.reduce((a, s) => a + s.errors, 0),
    requests,
    seconds,
    ...(error ? { error } : {}),
  };
}

/** The median of a list of numbers. */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
