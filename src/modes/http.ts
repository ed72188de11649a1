// HTTP mode: one long-lived upstream process behind a streaming reverse proxy.
import { formatDuration } from '../config/duration.js';
import { WatchdogError } from '../errors.js';
import type { ProcessOutcome } from '../process/function-process.js';
import { startUpstreamProcess, type UpstreamProcess } from '../process/upstream-process.js';
import { describeExit } from '../process/describe-exit.js';
import { answerError } from './http/answer-error.js';
import type { Proxy } from './http/proxy-call.js';
import { tunnelUpgrade } from './http/upgrade-tunnel.js';
import { upstreamTarget } from './http/upstream-target.js';
import { probeUntilReady, type ReadinessProbe } from './http/upstream-readiness.js';
import type { FunctionCall, ModeDeps, ModeRunner, UpgradeCall } from './mode.js';
import { ReadyGate } from './ready-gate.js';

/** Grace between SIGTERM and SIGKILL for the upstream's process group at shutdown. */
export const UPSTREAM_GRACE_MS = 5000;

/** When to say the upstream is still not listening (ms since start), then every minute. */
const NOT_READY_WARNINGS_MS = [2000, 10_000, 30_000];
const NOT_READY_REPEAT_MS = 60_000;

/** The http mode runner; also takes over Upgrade requests (WebSocket). */
export interface HttpModeRunner extends ModeRunner {
  handleUpgrade(call: UpgradeCall): void;
}

/** The http mode: starts the upstream at start(), proxies every call once it listens. */
export function createHttpMode(deps: ModeDeps): HttpModeRunner {
  const { config, logger } = deps;
  const upstreamUrl = config.upstreamUrl as URL;
  const program = deps.programPath as string;
  const args = config.argv.slice(1);
  const target = upstreamTarget(upstreamUrl);
  // The proxy (and undici, a chunk of the binary) is not needed to answer /_/ready: it is loaded once
  // start() has spawned the upstream and the watchdog's own start is done (setImmediate), while the
  // upstream starts; a call that comes before it is loaded waits for it.
  let proxy: Proxy | undefined;
  let loadingProxy: Promise<Proxy> | undefined;
  const loadProxy = (): Promise<Proxy> =>
    (loadingProxy ??= import('./http/proxy-call.js').then(
      ({ createProxy }) =>
        (proxy = createProxy({
          upstream: target,
          bufferBody: config.bufferHttpBody,
          logger,
          onExecTimeout: () => deps.events.execTimeout(),
        })),
    ));
  function forward(call: FunctionCall, timeoutMs: number): void {
    if (proxy !== undefined) proxy.forward(call, timeoutMs);
    else
      loadProxy().then(
        (p) => p.forward(call, timeoutMs),
        () => call.res.destroy(),
      );
  }
  const upstreamText = upstreamUrl.href.replace(/\/$/, '');

  let upstream: UpstreamProcess | undefined;
  let probe: ReadinessProbe | undefined;
  /** Open once the upstream listens; shut when it died ("upstream process exited: <how>") or at stop. */
  const gate = new ReadyGate();
  const tunnels = new Set<() => void>();

  function onUpstreamExit(o: ProcessOutcome): void {
    if (gate.shutReason !== undefined) return;
    deps.events.upstreamExit();
    const how = o.startError ? `exec failed: ${o.startError.message}` : describeExit(o);
    probe?.cancel();
    gate.shut(how);
    const tail = upstream?.stderrTail() ?? [];
    const lastLines =
      tail.length > 0
        ? `; last stderr lines: ${tail.map((l) => JSON.stringify(l)).join(' | ')}`
        : '; it wrote nothing to stderr';
    deps.onFatal(`Forked function has terminated: ${how}${lastLines}`, {
      upstreamExit: true,
      code: o.code,
      signal: o.signal,
      stderrTail: tail,
    });
  }

  function onNotYet(waitedMs: number): void {
    const next = warnings[0] ?? lastWarnMs + NOT_READY_REPEAT_MS;
    if (waitedMs < next) return;
    if (warnings.length > 0) warnings.shift();
    lastWarnMs = next;
    logger.warn(
      `Upstream ${upstreamText} is not ${config.readyPath === undefined ? 'accepting connections' : `answering 2xx on ready_path ${config.readyPath}`} after ${formatDuration(waitedMs - (waitedMs % 1000))}: check that fprocess listens on that address; /_/health stays 503 until it does`,
    );
  }
  const warnings = [...NOT_READY_WARNINGS_MS];
  let lastWarnMs = 0;

  function answerDead(call: FunctionCall): void {
    answerError(
      call,
      new WatchdogError('UPSTREAM_UNAVAILABLE', `upstream process exited: ${gate.shutReason as string}\n`),
    );
  }

  function handle(call: FunctionCall, upgrade?: (call: UpgradeCall) => void): void {
    if (gate.isOpen) {
      // Fast path: the upstream is listening.
      if (upgrade !== undefined) upgrade(call as UpgradeCall);
      else forward(call, call.timeoutMs);
      return;
    }
    if (gate.shutReason !== undefined) {
      answerDead(call);
      return;
    }
    // Early request: wait for the upstream, bounded by this call's own timeout.
    gate.serveWhenReady(
      call,
      (remainingMs) => {
        if (upgrade !== undefined) upgrade(call as UpgradeCall);
        else forward(call, remainingMs);
      },
      (timedOut) => {
        if (!timedOut) {
          answerDead(call);
          return;
        }
        deps.events.execTimeout();
        logger.warn(`Upstream not ready within exec_timeout: ${formatDuration(call.timeoutMs)}`, { url: call.target });
        answerError(
          call,
          new WatchdogError(
            'EXEC_TIMEOUT',
            `upstream was not ready within exec_timeout of ${formatDuration(call.timeoutMs)}\n`,
          ),
        );
      },
    );
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
      upstream = startUpstreamProcess({
        spawner: deps.spawner,
        program,
        args,
        env: deps.baseEnv,
        logger,
        logBufferSize: config.logBufferSize,
        graceMs: UPSTREAM_GRACE_MS,
        onLineCut: () => deps.events.logLineCut(),
      });
      upstream.done.then(onUpstreamExit, (err: unknown) =>
        onUpstreamExit({ code: null, signal: null, startError: err as Error, stoppedBy: undefined }),
      );
      probe = probeUntilReady({
        hostname: target.hostname,
        port: target.port,
        readyPath: config.readyPath === undefined ? undefined : target.basePath + config.readyPath,
        hostHeader: target.host,
        onReady() {
          if (gate.shutReason !== undefined) return;
          logger.info(`Upstream ready: ${upstreamText} (after ${Date.now() - startedAt}ms)`);
          gate.open();
        },
        onNotYet,
      });
      setImmediate(() =>
        loadProxy().catch((err: unknown) => logger.error(`cannot load the http proxy: ${String(err)}`)),
      );
    },
    isReady: () => gate.isOpen,
    waitReady: (ms) => gate.wait(ms),
    handle: (call) => handle(call),
    handleUpgrade,
    async stop() {
      gate.shut('stopped');
      probe?.cancel();
      for (const close of [...tunnels]) close();
      tunnels.clear();
      proxy?.close();
      if (upstream !== undefined) await upstream.stop();
    },
  };
}
