// Types for undici's Pool loaded by its module path: the package index would bundle fetch, WebSocket and caches too.
// Checked against undici 7.x; test/unit/internals.test.ts fails if the path stops being the public Pool.
declare module 'undici/lib/dispatcher/pool.js' {
  import type { Pool } from 'undici';
  /** undici's connection pool (the same class as `undici.Pool`). */
  const PoolClass: typeof Pool;
  export = PoolClass;
}
