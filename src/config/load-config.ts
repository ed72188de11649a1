// Turns an environment map into a validated WatchdogConfig, listing every problem at once.
import * as z from 'zod/mini'; // the mini build: start-up loads ~25 KB of zod instead of ~700 KB
import { splitCommandLine } from './argv.js';
import { parseDurationMs } from './duration.js';
import { CGI_ENVS, LOG_FORMATS, MODES, type CgiEnv, type LogFormat, type Mode } from './variables.js';

export interface WatchdogConfig {
  mode: Mode;
  /** The fprocess string as given (for logs), and its argv. */
  fprocess: string;
  argv: string[];
  port: number;
  metricsPort: number;
  readTimeoutMs: number;
  writeTimeoutMs: number;
  execTimeoutMs: number;
  healthcheckIntervalMs: number;
  upstreamUrl: URL | undefined;
  bufferHttpBody: boolean;
  /** Response Content-Type; undefined in classic means "echo the request's". */
  contentType: string | undefined;
  staticPath: string;
  suppressLock: boolean;
  maxInflight: number;
  /** Requests that may wait for a max_inflight slot (0 = none). */
  maxQueue: number;
  /** Longest wait in the queue (0 = no limit of its own). */
  queueTimeoutMs: number;
  prefixLogs: boolean;
  /** Longest logged line in bytes; Infinity = no limit. */
  logBufferSize: number;
  readyPath: string | undefined;
  logCallId: boolean;
  logFormat: LogFormat;
  maxBodyBytes: number;
  /** Most function output serializing and classic hold in memory; 0 = unlimited. */
  maxOutputBytes: number;
  cgiHeaders: boolean;
  /** stdout starts with a CGI header block (fork modes). */
  cgiResponse: boolean;
  /** Which CGI variables a forked process gets. */
  cgiEnv: CgiEnv;
  marshalRequest: boolean;
  combineOutput: boolean;
  writeDebug: boolean;
  debugHeaders: boolean;
  lockFilePath: string;
  tmpDir: string;
  secretMountPath: string;
  secrets: string[];
  authApiKeySecret: string | undefined;
  authApiKeyHeader: string;
  authHmacSecret: string | undefined;
  authHmacHeader: string;
}

export type Env = Record<string, string | undefined>;

export type ConfigResult = { ok: true; config: WatchdogConfig } | { ok: false; problems: string[] };

const BOOL_TRUE = new Set(['true', '1', 'yes', 'on']);
const BOOL_FALSE = new Set(['false', '0', 'no', 'off']);
const MAX_PORT = 65535;
/** max_output_bytes when unset: what serializing and classic hold of one call's output (64 MiB). */
export const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

/** Reads a variable (or its aliases; the alias wins, as in the originals). Empty counts as unset. */
function pick(env: Env, name: string, aliases: string[] = []): { name: string; value: string } | undefined {
  for (const alias of aliases) {
    const v = env[alias];
    if (v !== undefined && v !== '') return { name: alias, value: v };
  }
  const v = env[name];
  if (v !== undefined && v !== '') return { name, value: v };
  return undefined;
}

type Problem = (message: string) => void;

function show(value: string): string {
  return JSON.stringify(value);
}

function readDuration(env: Env, name: string, fallbackMs: number, problem: Problem): number {
  const got = pick(env, name);
  if (!got) return fallbackMs;
  const ms = parseDurationMs(got.value);
  if (ms === undefined) {
    const hint = /^["'].*["']$/.test(got.value) ? ' (remove the quotes)' : '';
    problem(`${got.name}=${show(got.value)} is not a duration${hint}: use whole seconds (30) or a Go duration such as 1m30s, 1.5s, 500ms; negative values are not allowed`);
    return fallbackMs;
  }
  return ms;
}

function readInt(env: Env, name: string, fallback: number, problem: Problem, opts: { min: number; max?: number; what: string }): number {
  const got = pick(env, name);
  if (!got) return fallback;
  const ok = /^[+-]?\d+$/.test(got.value);
  const n = ok ? Number(got.value) : NaN;
  if (!Number.isSafeInteger(n) || n < opts.min || (opts.max !== undefined && n > opts.max)) {
    const range = opts.max === undefined ? `>= ${opts.min}` : `${opts.min}..${opts.max}`;
    problem(`${got.name}=${show(got.value)} is not valid: ${opts.what} must be a whole number ${range}`);
    return fallback;
  }
  return n;
}

function readBool(env: Env, name: string, fallback: boolean, problem: Problem, aliases: string[] = []): boolean {
  // Either spelling set to true turns it on (the originals' getBools for buffer_http).
  let result: boolean | undefined;
  for (const n of [name, ...aliases]) {
    const v = env[n];
    if (v === undefined || v === '') continue;
    const lower = v.toLowerCase();
    if (BOOL_TRUE.has(lower)) result = true;
    else if (BOOL_FALSE.has(lower)) result = result ?? false;
    else problem(`${n}=${show(v)} is not a boolean: use true/false, 1/0, yes/no or on/off`);
  }
  return result ?? fallback;
}

function readEnum<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T, problem: Problem): T {
  const got = pick(env, name);
  if (!got) return fallback;
  if ((allowed as readonly string[]).includes(got.value)) return got.value as T;
  problem(`${got.name}=${show(got.value)} is not allowed: use one of ${allowed.join(', ')}`);
  return fallback;
}

const envSchema = z.record(z.string(), z.optional(z.string()));

/** Pure: the same env always gives the same result. */
export function loadConfig(rawEnv: Env): ConfigResult {
  const parsedEnv = envSchema.safeParse(rawEnv);
  if (!parsedEnv.success) return { ok: false, problems: parsedEnv.error.issues.map((i) => i.message) };
  const env = parsedEnv.data;
  const problems: string[] = [];
  const problem: Problem = (m) => problems.push(m);

  const mode = readEnum(env, 'mode', MODES, 'streaming', problem);
  const classic = mode === 'classic';

  const fprocessVar = pick(env, 'fprocess', ['function_process']);
  const fprocess = fprocessVar?.value ?? '';
  let argv: string[] = [];
  if (fprocessVar) {
    const split = splitCommandLine(fprocessVar.value);
    if (!split.ok) problem(`${fprocessVar.name}=${show(fprocessVar.value)} cannot be split into words: ${split.reason}`);
    else if (split.argv.length === 0) problem(`${fprocessVar.name} is blank: give the function's command, e.g. fprocess="node index.js"`);
    else if (mode === 'inproc' && split.argv.length > 1) problem(`${fprocessVar.name}=${show(fprocessVar.value)} has ${split.argv.length} words: in inproc mode fprocess is the module file alone, e.g. fprocess="index.mjs" (no "node", no arguments)`);
    else argv = split.argv;
  } else if (mode !== 'static') {
    problem(`fprocess is required in ${mode} mode: set fprocess (or function_process) to the function's ${mode === 'inproc' ? 'module file, e.g. fprocess="index.mjs"' : 'command, e.g. fprocess="cat"'}`);
  }

  const port = readInt(env, 'port', 8080, problem, { min: 0, max: MAX_PORT, what: 'a TCP port' });
  const metricsPort = readInt(env, 'metrics_port', 8081, problem, { min: 0, max: MAX_PORT, what: 'a TCP port' });
  if (port !== 0 && port === metricsPort) {
    problem(`port and metrics_port are both ${port}: give metrics_port another port, or 0 to turn the metrics server off`);
  }

  const readTimeoutMs = readDuration(env, 'read_timeout', 30_000, problem);
  const writeTimeoutMs = readDuration(env, 'write_timeout', 30_000, problem);
  const execTimeoutMs = readDuration(env, 'exec_timeout', classic ? 0 : 30_000, problem);
  const healthcheckIntervalMs = readDuration(env, 'healthcheck_interval', writeTimeoutMs, problem);

  let upstreamUrl: URL | undefined;
  const upstreamVar = pick(env, 'upstream_url', ['http_upstream_url']);
  if (mode === 'http') {
    if (!upstreamVar) {
      problem('upstream_url is required in http mode: set upstream_url (or http_upstream_url) to where the function listens, e.g. http://127.0.0.1:5000');
    } else {
      upstreamUrl = parseUpstreamUrl(upstreamVar.name, upstreamVar.value, problem);
    }
  }

  const staticPath = pick(env, 'static_path')?.value ?? '/home/app/public';

  let logBufferSize = readInt(env, 'log_buffer_size', 65536, problem, { min: -Number.MAX_SAFE_INTEGER, what: 'a size in bytes' });
  if (logBufferSize === 0) {
    problem('log_buffer_size="0" is not valid: use a size in bytes (default 65536), or a negative number for no limit');
  }
  if (logBufferSize < 0) logBufferSize = Infinity;

  const readyVar = pick(env, 'ready_path');
  if (readyVar && !readyVar.value.startsWith('/')) {
    problem(`ready_path=${show(readyVar.value)} must start with "/", e.g. /ready`);
  }

  if (readBool(env, 'jwt_auth', false, problem)) {
    problem('jwt_auth=true is not supported by fwatchdog (it needs an OpenFaaS gateway\'s OIDC issuer); use auth_api_key_secret or auth_hmac_secret');
  }

  const cgiResponse = readBool(env, 'cgi_response', false, problem);
  // A CGI program's stderr is its log: merged into stdout it would break the header block.
  const combineOutput = readBool(env, 'combine_output', !(classic && cgiResponse), problem);
  if (classic && cgiResponse && combineOutput) {
    problem('combine_output=true cannot be used with cgi_response=true: stderr would be mixed into the CGI header block; remove combine_output (it defaults to false with cgi_response)');
  }

  const maxInflight = readInt(env, 'max_inflight', 0, problem, { min: 0, what: 'a request count' });
  const maxQueue = readInt(env, 'max_queue', 0, problem, { min: 0, what: 'a request count' });
  if (maxQueue > 0 && maxInflight === 0) {
    problem(`max_queue=${show(String(maxQueue))} needs max_inflight: requests only wait when max_inflight are running; set max_inflight to a number above 0, or remove max_queue`);
  }

  const tmpDir = stripTrailingSlash(pick(env, 'TMPDIR')?.value ?? '/tmp');
  const secretsVar = pick(env, 'secrets');
  const secrets = secretsVar ? secretsVar.value.split(',').map((s) => s.trim()).filter((s) => s !== '') : [];
  const secretMountPath = stripTrailingSlash(pick(env, 'secret_mount_path')?.value ?? '/var/openfaas/secrets');
  const authApiKeySecret = pick(env, 'auth_api_key_secret')?.value;
  const authHmacSecret = pick(env, 'auth_hmac_secret')?.value;
  for (const s of [...secrets, authApiKeySecret, authHmacSecret]) {
    if (s !== undefined && (s.includes('/') || s === '.' || s === '..')) {
      problem(`secret name ${show(s)} is not a file name: secrets are files directly inside secret_mount_path`);
    }
  }

  const config: WatchdogConfig = {
    mode,
    fprocess,
    argv,
    port,
    metricsPort,
    readTimeoutMs,
    writeTimeoutMs,
    execTimeoutMs,
    healthcheckIntervalMs,
    upstreamUrl,
    bufferHttpBody: readBool(env, 'http_buffer_req_body', false, problem, ['buffer_http']),
    contentType: pick(env, 'content_type')?.value ?? (classic ? undefined : 'application/octet-stream'),
    staticPath,
    suppressLock: readBool(env, 'suppress_lock', false, problem),
    maxInflight,
    maxQueue,
    queueTimeoutMs: readDuration(env, 'queue_timeout', 10_000, problem),
    prefixLogs: readBool(env, 'prefix_logs', true, problem),
    logBufferSize,
    readyPath: readyVar?.value,
    logCallId: readBool(env, 'log_callid', false, problem, ['log_call_id']),
    logFormat: readEnum(env, 'log_format', LOG_FORMATS, 'json', problem),
    maxBodyBytes: readInt(env, 'max_body_bytes', 0, problem, { min: 0, what: 'a size in bytes' }),
    maxOutputBytes: readInt(env, 'max_output_bytes', DEFAULT_MAX_OUTPUT_BYTES, problem, { min: 0, what: 'a size in bytes' }),
    cgiHeaders: readBool(env, 'cgi_headers', true, problem),
    cgiResponse,
    cgiEnv: readEnum(env, 'cgi_env', CGI_ENVS, 'openfaas', problem),
    marshalRequest: readBool(env, 'marshal_request', false, problem),
    combineOutput,
    writeDebug: readBool(env, 'write_debug', false, problem),
    debugHeaders: readBool(env, 'debug_headers', false, problem),
    lockFilePath: `${tmpDir}/.lock`,
    tmpDir,
    secretMountPath,
    secrets,
    authApiKeySecret,
    authApiKeyHeader: (pick(env, 'auth_api_key_header')?.value ?? 'X-Api-Key').toLowerCase(),
    authHmacSecret,
    authHmacHeader: (pick(env, 'auth_hmac_header')?.value ?? 'X-Hub-Signature-256').toLowerCase(),
  };
  return problems.length > 0 ? { ok: false, problems } : { ok: true, config };
}

function stripTrailingSlash(p: string): string {
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
}

function parseUpstreamUrl(name: string, value: string, problem: Problem): URL | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    // URL throws on anything unparsable; the problem below says what to write instead.
    problem(`${name}=${show(value)} is not a URL: write it as http://host:port, e.g. http://127.0.0.1:5000`);
    return undefined;
  }
  if (url.protocol !== 'http:') {
    problem(`${name}=${show(value)} must use http:// (got ${url.protocol}), e.g. http://127.0.0.1:5000`);
    return undefined;
  }
  if (url.hostname === '') {
    problem(`${name}=${show(value)} has no host, e.g. http://127.0.0.1:5000`);
    return undefined;
  }
  if (url.search !== '' || url.hash !== '') {
    problem(`${name}=${show(value)} must not carry a query or fragment`);
    return undefined;
  }
  return url;
}
