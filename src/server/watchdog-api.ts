// What createWatchdog takes and returns.
import type { Server } from 'node:http';
import type { RequestGuard } from '../auth/request-guard.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { ModeRunner } from '../modes/mode.js';
import type { CallTracer } from '../trace/tracing.js';

export interface WatchdogDeps {
  logger: Logger;
  metrics: Metrics;
  mode: ModeRunner;
  /** A hook run before a function request reaches the mode (authentication); may replace the body. */
  guard?: RequestGuard;
  /** OpenTelemetry export (src/trace/tracing.ts); undefined = tracing off. */
  tracer?: CallTracer | undefined;
}

export interface Watchdog {
  readonly server: Server;
  readonly metricsServer: Server | undefined;
  /**
   * Binds both ports; rejects with a clear message if a port is taken. With `bound` (boot.ts: the port
   * bound early, its connections paused), the server takes over that listener and the connections it held.
   */
  listen(bound?: EarlyListener): Promise<{ port: number; metricsPort: number | undefined }>;
  /** Writes the lock file once the mode is ready (waits for it). Resolves false if it never got ready. */
  markReadyWhenReady(maxWaitMs?: number): Promise<boolean>;
  /** The contract's graceful shutdown. Resolves when everything is stopped. */
  shutdown(reason: string): Promise<void>;
  /**
   * Stop for a second signal or a fatal error: kill children, close sockets. With `answerMs` > 0
   * (fatal error), keep-alive clients are told to go and requests in flight get up to that long to be answered first.
   */
  abort(answerMs?: number): Promise<void>;
  /** Function requests in flight. */
  readonly inFlight: number;
  /** Function requests waiting for a max_inflight slot. */
  readonly queued: number;
  /** Function requests received since the start (the idle reclaim in main.ts watches it). */
  readonly started: number;
  readonly healthy: boolean;
}

/** The main port bound before the mode is loaded: the listener, and the connections accepted (paused) meanwhile. */
export interface EarlyListener {
  server: import('node:net').Server;
  pending: import('node:net').Socket[];
}
