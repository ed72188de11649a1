// Probes the upstream until it accepts TCP connections (or its ready_path answers 2xx).
import { request } from 'node:http';
import { connect } from 'node:net';

/** First and longest pause between two probes. */
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

  const again = (): void => {
    if (cancelled) return;
    options.onNotYet(Date.now() - startedAt);
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
    const probe = request({ host: options.hostname, port: options.port, path: options.readyPath, method: 'GET', agent: false, setHost: false, headers: ['Host', options.hostHeader, 'User-Agent', 'fwatchdog-ready-probe'], timeout: PROBE_TIMEOUT_MS }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300) ok();
      else notYet();
    });
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
