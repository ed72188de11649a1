// Probes the upstream until it accepts TCP connections (or its ready_path answers 2xx).
import { request } from 'node:http';
import { connect } from 'node:net';

/**
 * For the first FAST_WINDOW_MS, a probe every FAST_PAUSE_MS (a refused connect to a local port costs
 * tens of µs), so an upstream that starts in tens of ms (a Node server: ~40 ms) is seen within a
 * millisecond of listening; ready_path probes are HTTP requests to a starting process, so they are
 * spaced more. Then from FIRST_PAUSE_MS, doubling up to LONGEST_PAUSE_MS.
 */
const FAST_WINDOW_MS = 200;
const FAST_PAUSE_MS = 1;
const FAST_PAUSE_READY_PATH_MS = 5;
const FIRST_PAUSE_MS = 10;
const LONGEST_PAUSE_MS = 100;
/** How long one probe may take before it counts as a failure. */
const PROBE_TIMEOUT_MS = 1000;

/** Where and how to probe, and whom to tell. */
export interface ReadinessProbeOptions {
  hostname: string;
  port: number;
  /** Full request path of ready_path on the upstream (prefix included); undefined = TCP connect only. */
  readyPath: string | undefined;
  /** Host header for the ready_path request. */
  hostHeader: string;
  onReady(): void;
  /** Called after each failed probe with how long we have been waiting. */
  onNotYet(waitedMs: number): void;
}

/** A running probe loop. */
export interface ReadinessProbe {
  /** Stops probing (the upstream died, or the watchdog stops). */
  cancel(): void;
}

/** Starts probing at once; calls onReady exactly once, unless cancelled first. */
export function probeUntilReady(options: ReadinessProbeOptions): ReadinessProbe {
  const startedAt = Date.now();
  let pauseMs = FIRST_PAUSE_MS;
  let cancelled = false;
  let timer: NodeJS.Timeout | undefined;

  const fastPauseMs = options.readyPath === undefined ? FAST_PAUSE_MS : FAST_PAUSE_READY_PATH_MS;
  const again = (): void => {
    if (cancelled) return;
    const waitedMs = Date.now() - startedAt;
    options.onNotYet(waitedMs);
    if (waitedMs < FAST_WINDOW_MS) {
      timer = setTimeout(attempt, fastPauseMs);
      return;
    }
    timer = setTimeout(attempt, pauseMs);
    pauseMs = Math.min(LONGEST_PAUSE_MS, pauseMs * 2);
  };
  const ready = (): void => {
    if (!cancelled) options.onReady();
  };

  function attempt(): void {
    if (cancelled) return;
    // Each attempt settles once, whichever of its events comes first.
    let settled = false;
    const ok = (): void => {
      if (settled) return;
      settled = true;
      ready();
    };
    const notYet = (): void => {
      if (settled) return;
      settled = true;
      again();
    };
    if (options.readyPath === undefined) {
      const socket = connect({ host: options.hostname, port: options.port });
      socket.setTimeout(PROBE_TIMEOUT_MS, () => socket.destroy(new Error('probe timed out')));
      socket.once('connect', () => {
        socket.destroy();
        ok();
      });
      socket.once('error', notYet);
      return;
    }
    const probe = request(
      {
        host: options.hostname,
        port: options.port,
        path: options.readyPath,
        method: 'GET',
        agent: false,
        setHost: false,
        headers: ['Host', options.hostHeader, 'User-Agent', 'fwatchdog-ready-probe'],
        timeout: PROBE_TIMEOUT_MS,
      },
      (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) ok();
        else notYet();
      },
    );
    probe.once('timeout', () => probe.destroy(new Error('probe timed out')));
    probe.once('error', notYet);
    probe.end();
  }

  attempt();
  return {
    cancel() {
      cancelled = true;
      if (timer !== undefined) clearTimeout(timer);
    },
  };
}
