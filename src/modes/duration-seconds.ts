// The X-Duration-Seconds value every mode sends, as the originals print it.
import { performance } from 'node:perf_hooks';

/** Seconds since `startedAt` (a performance.now() value) as Go's %f: six decimals (X-Duration-Seconds). */
export function durationSeconds(startedAt: number): string {
  return ((performance.now() - startedAt) / 1000).toFixed(6);
}
