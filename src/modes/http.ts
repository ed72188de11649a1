// HTTP mode: one long-lived upstream process behind a streaming reverse proxy.
import { performance } from 'node:perf_hooks';
import { formatDuration } from '../config/duration.js';
import { WatchdogError } from '../errors.js';
import type { ProcessOutcome } from '../process/function-process.js';
import { startUpstreamProcess, type UpstreamProcess } from '../process/upstream-process.js';
import { describeExit } from '../process/describe-exit.js';
import { answerError, createProxy } from './http/proxy-call.js';
import { tunnelUpgrade, type TunnelTarget } from './http/upgrade-tunnel.js';
import { probeUntilReady, type ReadinessProbe } from './http/upstream-readiness.js';
import type { FunctionCall, ModeDeps, ModeRunner, UpgradeCall } from './mode.js';

/** Grace between SIGTERM and SIGKILL for the upstream's process group at shutdown. */
export const UPSTREAM_GRACE_MS = 5000;

/** When to say the upstream is still not listening (ms since start), then every minute. */
const NOT_READY_WARNINGS_MS = [2000, 10_000, 30_000];
const NOT_READY_REPEAT_MS = 60_000;

/** The http mode runner; also takes over Upgrade requests (WebSocket). */
export interface HttpModeRunner extends ModeRunner {
  handleUpgrade(call: UpgradeCall): void;
}

type Waiter = (ready: boolean) => void;

/** The http mode: starts the upstream at start(), proxies every call once it listens. */
export function createHttpMode(deps: ModeDeps): HttpModeRunner {
  const { config, logger } = deps;
  const upstreamUrl = config.upstreamUrl as URL;
  const program = deps.programPath as string;
  const args = config.argv.slice(1);
  const hostname = upstreamUrl.hostname.startsWith('[') ? upstreamUrl.hostname.slice(1, -1) : upstreamUrl.hostname;
  const port = Number(upstreamUrl.port || 80);
  const basePath = upstreamUrl.pathname === '/' ? '' : upstreamUrl.pathname.replace(/\/$/, '');
  const target: TunnelTarget = { hostname, port, basePath, upstreamHost: upstreamUrl.host };
  const proxy = createProxy({ upstream: upstreamUrl, bufferBody: config.bufferHttpBody, logger, onExecTimeout: () => deps.events.execTimeout() });
  const upstreamText = upstreamUrl.href.replace(/\/$/, '');

  let upstream: UpstreamProcess | undefined;
  let probe: ReadinessProbe | undefined;
  let ready = false;
  let dead: string | undefined;
  let stopping = false;
  const waiters = new Set<Waiter>();
  const tunnels = new Set<() => void>();

  const wake = (ok: boolean): void => {
    for (const w of [...waiters]) w(ok);
    waiters.clear();
  };

  /** Resolves true once ready; false after `ms`, on abort, or when the upstream can never be ready. */
  function whenReady(ms: number, signal?: AbortSignal): Promise<boolean> {
    if (ready && dead === undefined) return Promise.resolve(true);
    if (dead !== undefined || stopping || ms <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter: Waiter = (ok) => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        waiters.delete(waiter);
        resolve(ok);
      };
      const onAbort = (): void => waiter(false);
      const timer = Number.isFinite(ms) ? setTimeout(waiter, ms, false) : undefined;
      signal?.addEventListener('abort', onAbort, { once: true });
      waiters.add(waiter);
    });
  }

  function onUpstreamExit(o: ProcessOutcome): void {
    if (stopping) return;
    deps.events.upstreamExit();
    const how = o.startError ? `exec failed: ${o.startError.message}` : describeExit(o);
    dead = how;
    ready = false;
    probe?.cancel();
    wake(false);
    const tail = upstream?.stderrTail() ?? [];
    const lastLines = tail.length > 0 ? `; last stderr lines: ${tail.map((l) => JSON.stringify(l)).join(' | ')}` : '; it wrote nothing to stderr';
    deps.onFatal(`Forked function has terminated: ${how}${lastLines}`, { code: o.code, signal: o.signal, stderrTail: tail });
  }

  function onNotYet(waitedMs: number): void {
    const next = warnings[0] ?? lastWarnMs + NOT_READY_REPEAT_MS;
    if (waitedMs < next) return;
    if (warnings.length > 0) warnings.shift();
    lastWarnMs = next;
    logger.warn(`Upstream ${upstreamText} is not ${config.readyPath === undefined ? 'accepting connections' : `answering 2xx on ready_path ${config.readyPath}`} after ${formatDuration(waitedMs - (waitedMs % 1000))}: check that fprocess listens on that address; /_/health stays 503 until it does`);
  }
  const warnings = [...NOT_READY_WARNINGS_MS];
  let lastWarnMs = 0;

  function answerDead(call: FunctionCall): void {
    answerError(call, new WatchdogError('UPSTREAM_UNAVAILABLE', `upstream process exited: ${dead ?? 'stopped'}\n`));
  }

  function handle(call: FunctionCall, upgrade?: (call: UpgradeCall) => void): void {
    if (ready && dead === undefined) {
      // Fast path: the upstream is listening.
      if (upgrade !== undefined) upgrade(call as UpgradeCall);
      else proxy.forward(call, call.timeoutMs);
      return;
    }
    if (dead !== undefined || stopping) {
      answerDead(call);
      return;
    }
    // Early request: wait for the upstream, bounded by this call's own timeout.
    whenReady(call.timeoutMs > 0 ? call.timeoutMs : Infinity, call.signal).then((ok) => {
      if (call.res.destroyed || call.signal.aborted) return;
      if (!ok) {
        if (dead !== undefined || stopping) answerDead(call);
        else {
          deps.events.execTimeout();
          logger.warn(`Upstream not ready within exec_timeout: ${formatDuration(call.timeoutMs)}`, { url: call.req.url });
          answerError(call, new WatchdogError('EXEC_TIMEOUT', `upstream was not ready within exec_timeout of ${formatDuration(call.timeoutMs)}\n`));
        }
        return;
      }
      if (upgrade !== undefined) {
        upgrade(call as UpgradeCall);
        return;
      }
      const remainingMs = call.timeoutMs > 0 ? Math.max(1, call.timeoutMs - (performance.now() - call.startedAt)) : 0;
      proxy.forward(call, remainingMs);
    }, () => call.res.destroy());
  }

  function openTunnel(call: UpgradeCall): void {
    const close = tunnelUpgrade(call, target, logger);
    tunnels.add(close);
    call.socket.once('close', () => tunnels.delete(close));
  }

  function handleUpgrade(call: UpgradeCall): void {
    handle(call, openTunnel);
  }

  return {
    async start() {
      logger.info(`Forking: ${config.argv[0] as string}, arguments: [${args.join(' ')}]`);
      const startedAt = Date.now();
      upstream = startUpstreamProcess({ spawner: deps.spawner, program, args, env: deps.baseEnv, logger, logBufferSize: config.logBufferSize, graceMs: UPSTREAM_GRACE_MS, onLineCut: () => deps.events.logLineCut() });
      upstream.done.then(onUpstreamExit, (err: unknown) => onUpstreamExit({ code: null, signal: null, startError: err as Error, stoppedBy: undefined }));
      probe = probeUntilReady({
        hostname,
        port,
        readyPath: config.readyPath === undefined ? undefined : basePath + config.readyPath,
        hostHeader: upstreamUrl.host,
        onReady() {
          if (dead !== undefined || stopping) return;
          ready = true;
          logger.info(`Upstream ready: ${upstreamText} (after ${Date.now() - startedAt}ms)`);
          wake(true);
        },
        onNotYet,
      });
    },
    isReady: () => ready && dead === undefined && !stopping,
    waitReady: (ms) => whenReady(ms),
    handle: (call) => handle(call),
    handleUpgrade,
    async stop() {
      stopping = true;
      probe?.cancel();
      wake(false);
      for (const close of [...tunnels]) close();
      tunnels.clear();
      proxy.close();
      if (upstream !== undefined) await upstream.stop();
    },
  };
}
