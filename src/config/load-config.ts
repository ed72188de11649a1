// Turns an environment map into a validated WatchdogConfig, row by row of the variable table, listing every problem at once.
import { splitCommandLine } from './argv.js';
import { Invalid } from './parsers.js';
import {
  VARIABLES,
  type CgiEnv,
  type LogFormat,
  type Mode,
  type OtlpProtocol,
  type TracesSampler,
  type Variable,
} from './variables.js';

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
  /** Longest wait for the function's answer to the readiness probe (then 503). */
  readyTimeoutMs: number;
  logCallId: boolean;
  /** OTEL_EXPORTER_OTLP_ENDPOINT: the collector's base URL (traces go to <url>/v1/traces); tracing is off when neither endpoint is set. */
  otlpEndpoint: URL | undefined;
  /** OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: the traces URL as is. */
  otlpTracesEndpoint: URL | undefined;
  otlpProtocol: OtlpProtocol;
  otelServiceName: string | undefined;
  otelResourceAttributes: string | undefined;
  /** OTEL_TRACES_SAMPLER and its argument: checked here, applied by the SDK (which reads them itself). */
  otelTracesSampler: TracesSampler;
  otelTracesSamplerArg: number | undefined;
  logFormat: LogFormat;
  maxBodyBytes: number;
  /** Largest body serializing, classic and http_buffer_req_body hold in memory (413 over it); 0 = unlimited. */
  maxBufferedBodyBytes: number;
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

/** The spellings of a variable that are set (empty counts as unset); an alias comes first (the originals' precedence). */
function setNames(env: Record<string, string | undefined>, v: Variable): string[] {
  return [...(v.aliases ?? []), v.name].filter((n) => env[n] !== undefined && env[n] !== '');
}

/** Pure: the same env always gives the same result. */
export function loadConfig(rawEnv: Env): ConfigResult {
  // process.env holds only strings; anything else in a map built by hand is a caller's mistake, named here.
  const notText = Object.keys(rawEnv).filter((k) => rawEnv[k] !== undefined && typeof rawEnv[k] !== 'string');
  if (notText.length > 0)
    return { ok: false, problems: notText.map((k) => `${k} is not a string (${typeof rawEnv[k]})`) };
  const env = rawEnv;
  const problems: string[] = [];
  const config: Record<string, unknown> = {};
  const values = new Map<Variable, { value: unknown; setAs: string }>();

  for (const v of VARIABLES) {
    let value: unknown;
    let setAs = v.name;
    let valid = true;
    const names = v.readIn === undefined || v.readIn.includes(config.mode as Mode) ? setNames(env, v) : [];
    if (v.parse.anyTrue === true && names.length > 0) {
      // Either spelling set to true turns it on; each bad spelling is reported.
      for (const n of [v.name, ...(v.aliases ?? [])].filter((x) => names.includes(x))) {
        const got = v.parse.parse(env[n] as string, n);
        if (got instanceof Invalid) {
          problems.push(got.message);
          valid = false;
        } else value = value === true ? true : got;
      }
    } else if (names.length > 0) {
      setAs = names[0] as string;
      const got = v.parse.parse(env[setAs] as string, setAs);
      if (got instanceof Invalid) {
        problems.push(got.message);
        valid = false;
      } else value = got;
    }
    if (value === undefined) {
      value = typeof v.default === 'function' ? v.default(config as Partial<WatchdogConfig>) : v.default;
      const hint = names.length === 0 ? v.required?.(config.mode as Mode) : undefined;
      if (hint !== undefined) {
        const spellings = v.aliases ? `${v.name} (or ${v.aliases.join(', ')})` : v.name;
        problems.push(`${v.name} is required in ${String(config.mode)} mode: set ${spellings} to ${hint}`);
      }
    }
    if (v.key !== undefined) config[v.key] = value;
    if (valid) values.set(v, { value, setAs });
  }
  const fprocess = config.fprocess as string;
  const split = splitCommandLine(fprocess);
  config.argv = split.ok ? split.argv : [];
  config.lockFilePath = `${config.tmpDir as string}/.lock`;

  for (const [v, { value, setAs }] of values) {
    const problem = v.check?.(value as never, config as unknown as WatchdogConfig, setAs);
    if (problem !== undefined) problems.push(problem);
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, config: config as unknown as WatchdogConfig };
}
