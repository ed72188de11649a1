// Types for undici's Pool loaded by its module path: the package index would bundle fetch, WebSocket and caches too.
declare module 'undici/lib/dispatcher/pool.js' {
  import type { Pool } from 'undici';
  /** undici's connection pool (the same class as `undici.Pool`). */
  const PoolClass: typeof Pool;
  export = PoolClass;
}
