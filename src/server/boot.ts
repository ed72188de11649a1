// Wires config -> mode -> watchdog -> listening server, without touching process globals.
import { checkSecrets } from '../auth/check-secrets.js';
import type { WatchdogConfig } from '../config/load-config.js';
import { MODE_TABLE } from '../config/variables.js';
import { formatDuration } from '../config/duration.js';
import type { Logger } from '../log/logger.js';
import type { StreamReclaim } from '../process/stream-reclaim.js';
import { createMetrics, type Metrics } from '../metrics/metrics.js';
import { loadMode } from '../modes/load-mode.js';
import type { ModeRunner } from '../modes/mode.js';
import { createNativeSpawner, type SpawnAddon } from '../process/native-spawn.js';
import { createSpawner, type Spawner } from '../process/spawner.js';
import { resolveModuleFile, resolveProgram } from '../process/resolve-program.js';
import type { RequestGuard } from '../auth/request-guard.js';
import type { CallTracer } from '../trace/tracing.js';
import { createWatchdog, type Watchdog } from './create-watchdog.js';
import { closeSync } from 'node:fs';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { listenOn } from './metrics-server.js';
import type { EarlyListener } from './watchdog-api.js';

export class StartupError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.name = 'StartupError';
    this.exitCode = exitCode;
  }
}

export interface BootOptions {
  config: WatchdogConfig;
  logger: Logger;
  /** The environment given to function processes (the watchdog's own). */
  env: Record<string, string>;
  cwd: string;
  /** Called when the mode can no longer serve (e.g. the http upstream died: fields.upstreamExit is true). */
  onFatal(message: string, fields?: Record<string, unknown>): void;
  metrics?: Metrics;
  /** Given to the mode: collects the chunks of long streams as they go. */
  reclaim?: StreamReclaim;
  guard?: RequestGuard;
  /** The listening socket the portable launcher bound on `port` before Node started, close-on-exec (main.ts). */
  listenFd?: number;
  /** OpenTelemetry export, loaded by main.ts when an OTLP endpoint is set. */
  tracer?: CallTracer;
  /**
   * The posix_spawn addon (fork modes), or what loads it when first needed (main.ts: after ready);
   * without it processes start with child_process.
   */
  spawnAddon?: SpawnAddon | (() => SpawnAddon | undefined);
  /** A spawner made by the caller (tests); by default one is created here from spawnAddon. */
  spawner?: Spawner;
}

export interface Booted {
  watchdog: Watchdog;
  mode: ModeRunner;
  metrics: Metrics;
  port: number;
  metricsPort: number | undefined;
  programPath: string | undefined;
  /** Starts the function's processes; main.ts hands it SIGCHLD and gives the PID 1 reaper its isOwnChild. */
  spawner: Spawner;
}

/** Resolves the function program once; a StartupError (exit 2) names what is wrong. */
export function resolveFunctionProgram(
  config: WatchdogConfig,
  env: Record<string, string>,
  cwd: string,
): string | undefined {
  const kind = MODE_TABLE[config.mode].program;
  if (kind === 'none') return undefined;
  const program = config.argv[0] as string;
  if (kind === 'module') {
    const found = resolveModuleFile(program, cwd);
    if (!found.ok) throw new StartupError(`fprocess=${JSON.stringify(config.fprocess)}: ${found.reason}`, 2);
    return found.path;
  }
  const found = resolveProgram(program, env.PATH, cwd);
  if (!found.ok) throw new StartupError(`fprocess=${JSON.stringify(config.fprocess)}: ${found.reason}`, 2);
  return found.path;
}

/** Binds the main port first, then starts everything else; the lock file is written once the mode is ready. */
export async function bootWatchdog(options: BootOptions): Promise<Booted> {
  const { config } = options;
  const programPath = resolveFunctionProgram(config, options.env, options.cwd);
  const secretProblem = checkSecrets(config);
  if (secretProblem !== undefined) throw new StartupError(secretProblem, 2);
  // The port is bound now, before the mode and its function load: a cold start is reachable as soon
  // as the config is known (faasd counts a replica available once its task runs). Connections wait,
  // paused, until the server below takes them; /_/health and /_/ready then say 503 until ready.
  const early: EarlyListener = { server: createNetServer({ pauseOnConnect: true }), pending: [] };
  early.server.on('connection', (socket) => early.pending.push(socket));
  try {
    if (options.listenFd === undefined || !(await adoptListener(early.server, options.listenFd, config.port)))
      await listenOn(early.server, config.port, 'port');
  } catch (err) {
    throw new StartupError((err as Error).message, 1);
  }
  try {
    return await bootListening(options, programPath, early);
  } catch (err) {
    if (early.server.listening) early.server.close();
    for (const socket of early.pending) socket.destroy();
    throw err;
  }
}

/**
 * Listens on the socket the portable launcher bound before Node started (scripts/portable/launcher.c), if it
 * is a listening TCP socket on `port`; else closes it (false), and the caller listens itself.
 */
function adoptListener(server: NetServer, fd: number, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const giveUp = (): void => {
      server.off('error', giveUp);
      if (server.listening) server.close();
      else
        try {
          closeSync(fd);
        } catch {
          // Already closed by the failed listen.
        }
      resolve(false);
    };
    server.once('error', giveUp);
    try {
      server.listen({ fd }, () => {
        server.off('error', giveUp);
        const address = server.address();
        if (typeof address === 'object' && address !== null && address.port === port) resolve(true);
        else giveUp();
      });
    } catch {
      giveUp();
    }
  });
}

async function bootListening(
  options: BootOptions,
  programPath: string | undefined,
  early: EarlyListener,
): Promise<Booted> {
  const { config, logger } = options;
  const metrics = options.metrics ?? createMetrics({ defaultMetrics: true });
  const env = { ...options.env, secret_mount_path: config.secretMountPath };
  const factory = await loadMode(config.mode);
  const addon = options.spawnAddon;
  const spawner =
    options.spawner ??
    createSpawner(
      typeof addon === 'function'
        ? () => {
            const loaded = addon();
            return loaded === undefined ? undefined : createNativeSpawner(loaded);
          }
        : addon === undefined
          ? undefined
          : createNativeSpawner(addon),
    );
  const mode = factory({
    config,
    logger,
    baseEnv: env,
    programPath,
    events: metrics,
    spawner,
    onFatal: options.onFatal,
    ...(options.reclaim ? { reclaim: options.reclaim } : {}),
  });
  if (mode.load !== undefined) {
    try {
      await mode.load();
    } catch (err) {
      throw new StartupError(`fprocess=${JSON.stringify(config.fprocess)}: ${(err as Error).message}`, 2);
    }
  }
  logger.info(`Watchdog mode: ${config.mode}\tfprocess: ${JSON.stringify(config.fprocess)}`);
  logger.info(
    `Timeouts: read: ${formatDuration(config.readTimeoutMs)} write: ${formatDuration(config.writeTimeoutMs)} hard: ${formatDuration(config.execTimeoutMs)} health: ${formatDuration(config.healthcheckIntervalMs)}`,
  );
  // The auth code (and node:crypto) is loaded only when an auth_* secret is set.
  const auth = config.authApiKeySecret !== undefined || config.authHmacSecret !== undefined;
  const guard =
    options.guard ??
    (auth ? (await import('../auth/create-auth-guard.js')).createAuthGuard(config, { logger }) : undefined);
  // The mode starts before the ports are bound, as the originals do: in http mode the upstream's own
  // start-up (a second process) then overlaps the rest of the watchdog's.
  try {
    await mode.start();
  } catch (err) {
    await mode.stop();
    throw new StartupError((err as Error).message, 1);
  }
  if (options.tracer !== undefined) metrics.watchSpans(options.tracer.counts);
  const watchdog = createWatchdog(config, {
    logger,
    metrics,
    mode,
    ...(guard ? { guard } : {}),
    ...(options.tracer ? { tracer: options.tracer } : {}),
  });
  let ports: { port: number; metricsPort: number | undefined };
  try {
    ports = await watchdog.listen(early);
  } catch (err) {
    await watchdog.abort();
    throw new StartupError((err as Error).message, 1);
  }
  return { watchdog, mode, metrics, port: ports.port, metricsPort: ports.metricsPort, programPath, spawner };
}
