// The only impure file: process.env -> config -> watchdog -> listen -> signals -> exit code.
import { existsSync } from 'node:fs';
import { helpText, printableConfig } from './config/help.js';
import { loadConfig, type WatchdogConfig } from './config/load-config.js';
import { MODE_TABLE } from './config/variables.js';
import { createFdSink } from './log/fd-sink.js';
import { createLineSplitter } from './log/line-splitter.js';
import { createLogger, type Logger } from './log/logger.js';
import { loadAddon, type AddonLoadInput } from './process/load-addon.js';
import { SPAWN_ADDON, type SpawnAddon } from './process/native-spawn.js';
import { createReaper, REAPER_ADDON, type ReaperAddon } from './process/reaper.js';
import { createStreamReclaim } from './process/stream-reclaim.js';
import { bootWatchdog, resolveFunctionProgram, StartupError, type Booted } from './server/boot.js';
import type { Watchdog } from './server/watchdog-api.js';
import { callScope } from './trace/call-scope.js';
import { loadTracer, serviceNameOf, tracesUrlOf, type CallTracer } from './trace/tracing.js';
import { GIT_SHA, VERSION, versionLine } from './version.js';

function flag(args: string[], name: string): boolean {
  return args.includes(`-${name}`) || args.includes(`--${name}`);
}

/** The variable the portable launcher hands its early-bound listening socket in (scripts/portable/launcher.c). */
const LISTEN_FD_VAR = 'FWATCHDOG_LISTEN_FD';

function ownEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== LISTEN_FD_VAR) env[k] = v;
  return env;
}

/**
 * The launcher's listening socket, taken out of the environment: no process the watchdog starts sees the
 * variable. Node makes the socket close-on-exec when boot listens on it (test/e2e/launcher-listen.test.ts
 * checks that no function or upstream inherits it).
 */
function takeListenFd(): number | undefined {
  const value = process.env[LISTEN_FD_VAR];
  delete process.env[LISTEN_FD_VAR];
  if (value === undefined || !/^[0-9]{1,9}$/.test(value)) return undefined;
  const fd = Number(value);
  return fd > 2 ? fd : undefined;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (flag(args, 'help') || args.includes('-h')) {
    process.stdout.write(helpText());
    return;
  }
  if (flag(args, 'version')) {
    process.stdout.write(versionLine(process.arch));
    return;
  }
  if (flag(args, 'run-healthcheck')) {
    // Checked before the config is read, so a health check never fails on an unrelated variable.
    const tmp = (process.env.TMPDIR || '/tmp').replace(/(.)\/$/, '$1');
    if (existsSync(`${tmp}/.lock`)) process.exit(0);
    process.stderr.write('unable to find lock file.\n');
    process.exit(1);
  }
  const unknown = args.filter((a) => !['-print-config', '--print-config'].includes(a));
  if (unknown.length > 0) {
    process.stderr.write(`fwatchdog: unknown argument ${unknown.join(' ')}; see fwatchdog --help\n`);
    process.exit(2);
  }

  const env = ownEnv();
  const loaded = loadConfig(env);
  if (!loaded.ok) {
    process.stderr.write(
      `fwatchdog: the configuration has ${loaded.problems.length} problem(s):\n${loaded.problems.map((p) => `  - ${p}\n`).join('')}See fwatchdog --help for every variable.\n`,
    );
    process.exit(2);
  }
  const config = loaded.config;

  if (flag(args, 'print-config')) {
    let programPath: string | undefined;
    try {
      programPath = resolveFunctionProgram(config, env, process.cwd());
    } catch (err) {
      process.stderr.write(`fwatchdog: ${(err as Error).message}\n`);
      process.exit(2);
    }
    process.stdout.write(`${JSON.stringify(printableConfig(config, programPath), null, 2)}\n`);
    return;
  }

  let flushFunctionOutput: (() => void) | undefined;
  const errDest = createFdSink(2);
  const outDest = createFdSink(1);
  const flushLogs = (): void => {
    errDest.flushSync();
    outDest.flushSync();
  };
  const exit = (code: number): never => {
    flushFunctionOutput?.();
    flushLogs();
    process.exit(code);
  };
  const logger = createLogger({
    format: config.logFormat,
    prefixLogs: config.prefixLogs,
    err: errDest,
    out: outDest,
    debug: config.writeDebug || config.debugHeaders,
    textCallIds: config.logCallId,
  });
  logger.info(`Version: ${VERSION}\tSHA: ${GIT_SHA}`);
  const addonInput: AddonLoadInput = {
    dlopen: (m, f) => process.dlopen(m, f),
    execPath: process.execPath,
    scriptPath: process.argv[1],
    tmpDir: config.tmpDir,
    uid: process.getuid?.(),
  };
  // Both addons load once the watchdog is ready (in run()): the first /_/ready does not wait for them.
  const addons: Addons = {
    reaper: process.pid === 1 ? () => loadReaper(logger, addonInput) : undefined,
    spawn: MODE_TABLE[config.mode].forks ? () => loadSpawner(logger, addonInput) : undefined,
  };
  const listenFd = takeListenFd();
  if (config.mode === 'inproc') flushFunctionOutput = routeFunctionOutput(logger, config.logBufferSize);
  // OpenTelemetry export: its SDK (the otel chunk) loads only when an OTLP endpoint is set (docs/tracing.md).
  const tracesUrl = tracesUrlOf(config);
  let tracer: CallTracer | undefined;
  if (tracesUrl !== undefined) {
    const serviceName = serviceNameOf(config);
    tracer = await loadTracer({
      tracesUrl,
      serviceName,
      resourceAttributes: config.otelResourceAttributes,
      mode: config.mode,
      port: config.port,
      warn: (m) => logger.warn(m),
    });
    logger.info(`Tracing: a span per request to ${tracesUrl} (service.name ${serviceName})`);
  }

  await run(config, env, logger, exit, addons, tracer, listenFd);
}

/** How long after boot the work not needed for the first /_/ready is done (the addons). */
const AFTER_READY_MS = 50;

/** After a fatal error (the upstream died), how long requests in flight may take to get their answer (502) before the exit. */
const FATAL_ANSWER_MS = 1000;

/** After a bug, the exit comes at the latest this long after it: the answers' second, then the mode's stop (5 s for an inproc shutdown() or an upstream's SIGTERM grace). */
const BUG_EXIT_MS = 10_000;
/**
 * The exit window: a shutdown signal that arrives this long after the http upstream exited makes that
 * exit part of the shutdown, not a crash. faasd (containerd) sends SIGTERM to every process of the
 * container at once, so the upstream often exits a few ms before the watchdog hears its own SIGTERM.
 */
const EXIT_WINDOW_MS = 1000;

/** What loads the native addons main.ts needs: the posix_spawn one (fork modes) and, as PID 1, the zombie reaper. */
interface Addons {
  spawn: (() => SpawnAddon | undefined) | undefined;
  reaper: (() => ReaperAddon | undefined) | undefined;
}

/** At exit, how long the spans still queued may take to be exported. */
const TRACE_FLUSH_MS = 2000;

async function run(
  config: WatchdogConfig,
  env: Record<string, string>,
  logger: Logger,
  exitNow: (code: number) => never,
  addons: Addons,
  tracer: CallTracer | undefined,
  listenFd: number | undefined,
): Promise<void> {
  // With tracing on, a planned exit first exports what is queued (bounded): a collector that is down costs at most TRACE_FLUSH_MS.
  const exit = (code: number): void => {
    if (tracer === undefined) exitNow(code);
    else
      tracer.shutdown(TRACE_FLUSH_MS).then(
        () => exitNow(code),
        () => exitNow(code),
      );
  };
  let booted: Booted | undefined;
  let fatal = false;
  const gc = lazyGc(logger);
  let signals = 0;
  // An upstream exit waiting for the exit window to close: a signal within it makes it a shutdown.
  let exitInWindow: { message: string; timer: NodeJS.Timeout } | undefined;
  const declareFatal = (message: string): void => {
    if (fatal) return;
    fatal = true;
    logger.error(message);
    if (!booted) return; // boot itself will fail and exit
    booted.watchdog.abort(FATAL_ANSWER_MS).finally(() => exit(1));
  };
  const onFatal = (message: string, fields?: Record<string, unknown>): void => {
    if (fatal || exitInWindow !== undefined) return;
    const upstreamExit = fields?.upstreamExit === true;
    if (upstreamExit && signals > 0) {
      // faasd signalled the whole container: the upstream stopped as asked; the shutdown goes on.
      logger.info(`${message} (during the shutdown)`);
      return;
    }
    if (upstreamExit && booted) {
      exitInWindow = { message, timer: setTimeout(() => declareFatal(message), EXIT_WINDOW_MS) };
      return;
    }
    declareFatal(message);
  };

  // A bug (an exception nothing caught, a rejection nothing handled; in inproc the function's own too):
  // the process is in an unknown state (Node's docs), so it fails safe as after a fatal error: unhealthy
  // at once, no new connections, what is in flight gets FATAL_ANSWER_MS, then exit 1 (docs/operations.md).
  let bugExit: NodeJS.Timeout | undefined;
  const onBug = (what: string, err: unknown): void => {
    logger.error(`${what}: ${String(err)}`, { err: (err as Error | undefined)?.stack ?? String(err) });
    bugExit ??= setTimeout(exitNow, BUG_EXIT_MS, 1); // whatever the stop waits for, in a state nobody can trust
    onFatal(
      `the process is in an unknown state after an ${what}: unhealthy now, exiting once the requests in flight are answered (at most ${FATAL_ANSWER_MS} ms)`,
    );
  };
  process.on('uncaughtException', (err) => onBug('uncaught exception', err));
  // As Node's default since 15 (--unhandled-rejections=throw), which an explicit listener does not depend on.
  process.on('unhandledRejection', (err) => onBug('unhandled rejection', err));

  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals === 1 && exitInWindow !== undefined && !fatal) {
      clearTimeout(exitInWindow.timer);
      logger.info(`${exitInWindow.message} (${signal} followed within ${EXIT_WINDOW_MS}ms: a shutdown)`);
    }
    if (signals > 1 || !booted) {
      logger.warn(`${signal} again: exiting now`);
      if (booted) booted.watchdog.abort().finally(() => exitNow(1));
      else exitNow(1);
      return;
    }
    booted.watchdog.shutdown(signal).then(() => exit(fatal ? 1 : 0));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  try {
    booted = await bootWatchdog({
      config,
      logger,
      env,
      cwd: process.cwd(),
      onFatal,
      reclaim: createStreamReclaim(youngGenerationGc(gc)),
      ...(addons.spawn ? { spawnAddon: addons.spawn } : {}),
      ...(tracer ? { tracer } : {}),
      ...(listenFd !== undefined ? { listenFd } : {}),
    });
  } catch (err) {
    logger.error(err instanceof StartupError ? err.message : `start-up failed: ${String((err as Error).stack ?? err)}`);
    exitNow(err instanceof StartupError ? err.exitCode : 1);
    return;
  }
  if (fatal) {
    await booted.watchdog.abort();
    exitNow(1);
  }
  // Shortly after ready (or while the mode waits for its function), not before the first /_/ready is
  // answered: the spawn addon loads (a request that comes first loads it itself), then as PID 1 the
  // reaper. The spawner made in boot collects its processes' exits on SIGCHLD; the reaper leaves those
  // pids to it.
  const spawner = booted.spawner;
  setTimeout(() => {
    spawner.prepare();
    if (spawner.native) process.on('SIGCHLD', () => spawner.onSigchld());
    const reaperAddon = addons.reaper?.();
    if (reaperAddon !== undefined) {
      const reaper = createReaper(reaperAddon, { logger, isOwnChild: spawner.isOwnChild });
      process.on('SIGCHLD', () => reaper.poke());
    }
  }, AFTER_READY_MS);
  try {
    const ready = await booted.watchdog.markReadyWhenReady();
    if (!ready && !fatal && signals === 0 && exitInWindow === undefined)
      logger.error('the function never became ready');
    if (ready) startIdleReclaim(booted.watchdog, gc);
    // prom-client (about 5 MB resident) is loaded by the first scrape (src/metrics/metrics.ts), not at
    // start nor by requests: a replica nobody scrapes stays at Node's floor.
  } catch (err) {
    logger.error(
      `cannot write the lock file ${config.lockFilePath}: ${(err as Error).message}; set TMPDIR to a writable folder or suppress_lock=true`,
    );
    await booted.watchdog.abort();
    exitNow(1);
  }
}

/** V8's gc(), once exposed; the first call starts exposing it (node:v8 and node:vm load only then) and returns undefined. */
type Gc = (options: { type: 'minor' | 'major'; flavor?: 'regular' | 'last-resort' }) => void;

function lazyGc(logger: Logger): () => Gc | undefined {
  let gc: Gc | undefined;
  let loading = false;
  return () => {
    if (gc !== undefined || loading) return gc;
    loading = true;
    Promise.all([import('node:v8'), import('node:vm')])
      .then(([v8, vm]) => {
        v8.setFlagsFromString('--expose-gc');
        gc = vm.runInNewContext('gc') as Gc;
      })
      .catch((err: unknown) => logger.warn(`cannot collect garbage early: ${String(err)}`));
    return undefined;
  };
}

/** V8's young-generation collection, for the stream reclaim (src/process/stream-reclaim.ts). */
function youngGenerationGc(gc: () => Gc | undefined): () => void {
  return () => gc()?.({ type: 'minor' });
}

/** How often the idle reclaim looks at the request count: a load is over 0.5 to 1 s after its last request. */
const IDLE_TICK_MS = 500;

/** The RSS grown since the last idle collection (or the start) that makes the next one worth its 5-40 ms. */
const IDLE_RECLAIM_BYTES = 4 << 20;

/**
 * Gives back what a load grew, once it is over (docs/performance.md, "Memory after a load"). Under
 * load V8 grows its young generation to 2 x 16 MiB semi-spaces and keeps them: neither its own full
 * collections nor gc() shrink them, only a memory-reducing one, which V8 starts on idle notifications
 * that Node never sends. So one timer (not a per-request cost) looks every IDLE_TICK_MS: when no
 * request started during the last tick, none is in flight and RSS grew by IDLE_RECLAIM_BYTES, it
 * runs V8's last-resort collection, which shrinks the young generation back to 1 MiB and frees the
 * pooled pages: RSS returns to within a few MB of idle.
 */
function startIdleReclaim(watchdog: Watchdog, gc: () => Gc | undefined): void {
  let seen = watchdog.started;
  let floor = process.memoryUsage.rss();
  setInterval(() => {
    const started = watchdog.started;
    if (started !== seen) {
      seen = started;
      gc(); // exposes gc() during the load, so the collection is ready when it ends
      return;
    }
    if (watchdog.inFlight > 0 || watchdog.queued > 0) return;
    const rss = process.memoryUsage.rss();
    floor = Math.min(floor, rss);
    if (rss < floor + IDLE_RECLAIM_BYTES) return;
    const collect = gc();
    if (collect === undefined) return;
    collect({ type: 'major', flavor: 'last-resort' });
    floor = process.memoryUsage.rss();
  }, IDLE_TICK_MS).unref();
}

/**
 * Fork modes start a process per request: with the spawn addon via posix_spawn (nothing of this
 * process is copied); without it via child_process.spawn, whose fork() costs more the more memory
 * is resident, so V8's young generation is kept at its start size (see docs/performance.md).
 */
function loadSpawner(logger: Logger, input: AddonLoadInput): SpawnAddon | undefined {
  const load = loadAddon(SPAWN_ADDON, input);
  if (!load.ok) {
    logger.info(`Starting functions with child_process.spawn (spawn addon: ${load.reason})`);
    // node:v8 is loaded only here: start-up with the addon does not pay for it.
    import('node:v8').then(
      (v8) => v8.setFlagsFromString('--semi-space-growth-factor=1'),
      (err: unknown) => logger.warn(`cannot keep the young generation small: ${String(err)}`),
    );
    return undefined;
  }
  logger.info(`Starting functions with posix_spawn (${load.from})`);
  return load.addon;
}

/**
 * inproc: the function runs in this process, so what it writes to stdout and stderr (console.log,
 * process.stdout.write) becomes function output lines, split and formatted like a forked function's,
 * with the call id of the handler call that wrote them (src/trace/call-scope.ts).
 * The watchdog's own lines go to fd 1 and 2 through fd sinks (src/log/fd-sink.ts), never through these streams.
 * Returns a flush for a last line without a newline.
 */
function routeFunctionOutput(logger: Logger, maxLineBytes: number): () => void {
  const splitters = (['stdout', 'stderr'] as const).map((name) => {
    const splitter = createLineSplitter(maxLineBytes, (line) =>
      logger.functionLine(name, line, callScope.getStore()?.callId),
    );
    const stream = process[name];
    stream.write = ((
      chunk: string | Uint8Array,
      encoding?: BufferEncoding | ((err?: Error | null) => void),
      callback?: (err?: Error | null) => void,
    ): boolean => {
      splitter.write(chunk, typeof encoding === 'string' ? encoding : undefined);
      const done = typeof encoding === 'function' ? encoding : callback;
      if (done !== undefined) process.nextTick(done);
      return true;
    }) as typeof stream.write;
    return splitter;
  });
  return () => {
    for (const s of splitters) s.flush();
  };
}

/** As PID 1, orphaned zombies are reaped with the native addon; without it, say so once at start-up. */
function loadReaper(logger: Logger, input: AddonLoadInput): ReaperAddon | undefined {
  const load = loadAddon(REAPER_ADDON, input);
  if (!load.ok) {
    logger.warn(
      `running as PID 1 without the zombie reaper (${load.reason}; looked for ${load.tried.join(', ')}): orphaned processes will stay zombies. Put ${REAPER_ADDON.file} next to the binary or run under an init such as tini`,
    );
    return undefined;
  }
  logger.info(`Reaping orphaned processes as PID 1 (${load.from})`);
  return load.addon;
}

main().catch((err: unknown) => {
  process.stderr.write(`fwatchdog: ${String((err as Error)?.stack ?? err)}\n`);
  process.exit(1);
});
