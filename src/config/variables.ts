// The one table of modes and environment variables: the loader, --help, --print-config and docs/configuration.md derive from it.
//
// Adding a variable = one row in VARIABLES below (name, aliases, the WatchdogConfig field it fills, parser,
// default, help) plus the field in WatchdogConfig (load-config.ts) and the code that uses it. A rule that
// involves other variables goes in the row's `check`. Then run `npm run docs:config` (a test compares
// docs/configuration.md with the table). Adding a mode = one row in MODE_TABLE
// and its loader in src/modes/load-mode.ts.
import type { WatchdogConfig } from './load-config.js';
import {
  bool,
  commandLine,
  otlpUrl,
  ratio,
  duration,
  folder,
  headerName,
  int,
  lineLimit,
  oneOf,
  secretName,
  secretNames,
  show,
  text,
  upstreamUrl,
  urlPath,
  type Parser,
} from './parsers.js';

export interface ModeInfo {
  /** Starts a process per request: the spawner is set up at start-up (main.ts). */
  readonly forks: boolean;
  /** What fprocess names: a command found on PATH, a JavaScript/TypeScript module file, or nothing (boot.ts resolves it). */
  readonly program: 'command' | 'module' | 'none';
  /** One line for --help and the docs. */
  readonly summary: string;
}

/** Every mode, in the order --help lists them. */
export const MODE_TABLE = {
  streaming: {
    program: 'command',
    forks: true,
    summary: 'a process per request; its stdout is streamed to the client as it comes',
  },
  serializing: {
    program: 'command',
    forks: true,
    summary: 'a process per request; the whole body in, the whole output back',
  },
  http: {
    program: 'command',
    forks: false,
    summary: 'one long-running upstream HTTP server; requests are proxied to it',
  },
  static: { program: 'none', forks: false, summary: 'serves the files of static_path' },
  classic: {
    program: 'command',
    forks: true,
    summary: "the classic watchdog's fork per request, buffered, with its CGI variables",
  },
  inproc: {
    program: 'module',
    forks: false,
    summary: 'a JavaScript/TypeScript module loaded into the watchdog itself (docs/inproc.md)',
  },
} as const satisfies Record<string, ModeInfo>;

export type Mode = keyof typeof MODE_TABLE;
export const MODES = Object.keys(MODE_TABLE) as Mode[];

export const LOG_FORMATS = ['json', 'text'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** OTEL_EXPORTER_OTLP_PROTOCOL values the exporter speaks. */
export const OTLP_PROTOCOLS = ['http/json'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];
/** The samplers the OpenTelemetry JS SDK builds from OTEL_TRACES_SAMPLER (it reads the variable itself). */
export const TRACES_SAMPLERS = [
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
  'always_on',
  'always_off',
  'traceidratio',
] as const;
export type TracesSampler = (typeof TRACES_SAMPLERS)[number];

/** cgi_env: the originals' Http_* variables only, or also RFC 3875's meta-variables (docs/cgi.md). */
export const CGI_ENVS = ['openfaas', 'rfc3875'] as const;
export type CgiEnv = (typeof CGI_ENVS)[number];

const MAX_PORT = 65535;
/** max_output_bytes when unset: what serializing and classic hold of one call's output (64 MiB). */
export const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024 * 1024;
const FORK_MODES: readonly Mode[] = MODES.filter((m) => MODE_TABLE[m].forks);

/** The config fields a variable may fill (argv and lockFilePath are derived from fprocess and TMPDIR). */
type Field = Exclude<keyof WatchdogConfig, 'argv' | 'lockFilePath'>;

export interface Variable<K extends Field = Field> {
  /** The canonical name (the originals' spelling). */
  readonly name: string;
  /** Other accepted names; the first one present wins over `name` (the originals' precedence). */
  readonly aliases?: readonly string[];
  /** The WatchdogConfig field it fills; absent for a variable that is only checked (jwt_auth). */
  readonly key?: K;
  readonly parse: Parser<WatchdogConfig[K]>;
  /** The value when unset (or empty); a function for a default that depends on the mode or an earlier row. */
  readonly default: WatchdogConfig[K] | ((c: Readonly<Partial<WatchdogConfig>>) => WatchdogConfig[K]);
  /** The default as --help says it; derived from `default` when that is a plain value. */
  readonly defaultText?: string;
  readonly help: string;
  /** Modes that use it (for --help and the docs); absent = all. */
  readonly modes?: readonly Mode[];
  /** Read only in these modes; elsewhere it keeps its default (upstream_url). */
  readonly readIn?: readonly Mode[];
  /** In the modes that need it set: what to set it to ("the function's command, e.g. ..."). */
  readonly required?: (mode: Mode) => string | undefined;
  /** A rule involving other variables, run once every row is read; returns the problem, if any. */
  readonly check?: (value: WatchdogConfig[K], c: Readonly<WatchdogConfig>, setAs: string) => string | undefined;
}

/** Types one row: the parser and the default must fit the field. */
function row<K extends Field>(v: Variable<K>): Variable {
  return v as unknown as Variable;
}

/** Rows are read in this order: a default that depends on another variable comes after it. */
export const VARIABLES: readonly Variable[] = [
  row({ name: 'mode', key: 'mode', parse: oneOf(MODES), default: 'streaming', help: `one of ${MODES.join(', ')}` }),
  row({
    name: 'fprocess',
    aliases: ['function_process'],
    key: 'fprocess',
    parse: commandLine,
    default: '',
    defaultText: '(required except in static mode)',
    help: 'the function command; split like shell words (quotes, backslashes), never run through a shell. inproc: the JavaScript/TypeScript module file to load (docs/inproc.md)',
    required: (mode) =>
      ({
        none: undefined,
        module: 'the function\'s module file, e.g. fprocess="index.mjs"',
        command: 'the function\'s command, e.g. fprocess="cat"',
      })[MODE_TABLE[mode].program],
    check: (value, c, setAs) => {
      const words = c.argv.length;
      if (c.mode !== 'inproc' || words <= 1) return undefined;
      return `${setAs}=${show(value)} has ${words} words: in inproc mode fprocess is the module file alone, e.g. fprocess="index.mjs" (no "node", no arguments)`;
    },
  }),
  row({
    name: 'port',
    key: 'port',
    parse: int('a TCP port', 0, MAX_PORT),
    default: 8080,
    help: 'HTTP port (0 = any free port)',
  }),
  row({
    name: 'metrics_port',
    key: 'metricsPort',
    parse: int('a TCP port', 0, MAX_PORT),
    default: 8081,
    help: 'Prometheus /metrics port (0 = metrics server off)',
    check: (value, c) =>
      value !== 0 && value === c.port
        ? `port and metrics_port are both ${value}: give metrics_port another port, or 0 to turn the metrics server off`
        : undefined,
  }),
  row({
    name: 'read_timeout',
    key: 'readTimeoutMs',
    parse: duration,
    default: 30_000,
    help: 'max time to read a whole request, headers and body (0 = no limit)',
  }),
  row({
    name: 'write_timeout',
    key: 'writeTimeoutMs',
    parse: duration,
    default: 30_000,
    help: 'max time to write a response once the request is read (0 = no limit); also bounds the shutdown drain',
  }),
  row({
    name: 'exec_timeout',
    key: 'execTimeoutMs',
    parse: duration,
    default: (c) => (c.mode === 'classic' ? 0 : 30_000),
    defaultText: '30s (classic: 0 = off)',
    help: 'hard limit on one function call; the X-Timeout request header can only shorten it',
  }),
  row({
    name: 'healthcheck_interval',
    key: 'healthcheckIntervalMs',
    parse: duration,
    default: (c) => c.writeTimeoutMs ?? 30_000,
    defaultText: 'write_timeout',
    help: 'after SIGTERM, how long to keep serving while unhealthy before draining (0 = no wait)',
  }),
  row({
    name: 'upstream_url',
    aliases: ['http_upstream_url'],
    key: 'upstreamUrl',
    parse: upstreamUrl,
    default: undefined,
    defaultText: '(required in http mode)',
    help: 'where the upstream server listens, e.g. http://127.0.0.1:5000',
    modes: ['http'],
    readIn: ['http'],
    required: (mode) => (mode === 'http' ? 'where the function listens, e.g. http://127.0.0.1:5000' : undefined),
  }),
  row({
    name: 'http_buffer_req_body',
    aliases: ['buffer_http'],
    key: 'bufferHttpBody',
    parse: bool,
    default: false,
    help: 'read the whole request body, then send it upstream with Content-Length (for WSGI servers)',
    modes: ['http'],
  }),
  row({
    name: 'content_type',
    key: 'contentType',
    parse: text,
    default: (c) => (c.mode === 'classic' ? undefined : 'application/octet-stream'),
    defaultText: 'application/octet-stream (classic: the request Content-Type)',
    help: 'response Content-Type',
    modes: FORK_MODES,
  }),
  row({
    name: 'static_path',
    key: 'staticPath',
    parse: text,
    default: '/home/app/public',
    help: 'folder served in static mode',
    modes: ['static'],
  }),
  row({
    name: 'suppress_lock',
    key: 'suppressLock',
    parse: bool,
    default: false,
    help: 'do not write the lock file (health endpoints still report the real state)',
  }),
  row({
    name: 'max_inflight',
    key: 'maxInflight',
    parse: int('a request count', 0),
    default: 0,
    defaultText: '0 (unlimited)',
    help: 'concurrent function requests; more wait in the queue (max_queue) or get 429 at once',
  }),
  row({
    name: 'max_queue',
    key: 'maxQueue',
    parse: int('a request count', 0),
    default: 0,
    defaultText: '0 (no queue)',
    help: 'with max_inflight reached, how many requests may wait for a slot, in arrival order; more get 429 at once (docs/queue.md)',
    check: (value, c) =>
      value > 0 && c.maxInflight === 0
        ? `max_queue=${show(String(value))} needs max_inflight: requests only wait when max_inflight are running; set max_inflight to a number above 0, or remove max_queue`
        : undefined,
  }),
  row({
    name: 'queue_timeout',
    key: 'queueTimeoutMs',
    parse: duration,
    default: 10_000,
    help: 'longest wait in the queue before a 429 (0 = until a slot frees or the client leaves)',
  }),
  row({
    name: 'prefix_logs',
    key: 'prefixLogs',
    parse: bool,
    default: true,
    help: 'prefix function output lines with time and stream name; false passes lines through untouched',
  }),
  row({
    name: 'log_buffer_size',
    key: 'logBufferSize',
    parse: lineLimit,
    default: 65536,
    help: 'longest function log line in bytes; longer lines are cut with a marker (negative = no limit)',
  }),
  row({
    name: 'ready_path',
    key: 'readyPath',
    parse: urlPath,
    default: undefined,
    defaultText: '(none)',
    help: 'path the function serves to say it is ready; /_/ready asks it',
  }),
  row({
    name: 'ready_timeout',
    key: 'readyTimeoutMs',
    parse: duration,
    default: 5000,
    help: 'with ready_path, how long /_/ready waits for the function to answer before it says 503 (exec_timeout bounds it too, when shorter)',
    check: (value) =>
      value <= 0
        ? `ready_timeout=${show(String(value))} must be above 0, e.g. 5s: a probe the function never answers would hang every /_/ready`
        : undefined,
  }),
  row({
    name: 'log_callid',
    aliases: ['log_call_id'],
    key: 'logCallId',
    parse: bool,
    default: false,
    help: 'text logs: call ids (and trace ids) on the access line and function output lines; JSON logs always carry them',
  }),
  row({
    name: 'log_format',
    key: 'logFormat',
    parse: oneOf(LOG_FORMATS),
    default: 'json',
    help: `watchdog log lines as ${LOG_FORMATS.join(' or ')}`,
  }),
  row({
    name: 'max_body_bytes',
    key: 'maxBodyBytes',
    parse: int('a size in bytes', 0),
    default: 0,
    defaultText: '0 (unlimited)',
    help: 'largest accepted request body; larger ones get 413',
  }),
  row({
    name: 'max_buffered_body_bytes',
    key: 'maxBufferedBodyBytes',
    parse: int('a size in bytes', 0),
    default: DEFAULT_MAX_OUTPUT_BYTES,
    defaultText: '67108864 (64 MiB)',
    help: 'largest request body a buffering mode reads into memory (serializing, classic, http with http_buffer_req_body); larger ones get 413; a lower max_body_bytes wins (0 = unlimited)',
    modes: ['serializing', 'classic', 'http'],
  }),
  row({
    name: 'cgi_response',
    key: 'cgiResponse',
    parse: bool,
    default: false,
    help: 'stdout starts with a CGI header block (Status:, Content-Type:, other headers, an empty line), then the body (docs/cgi.md)',
    modes: FORK_MODES,
  }),
  row({
    name: 'cgi_env',
    key: 'cgiEnv',
    parse: oneOf(CGI_ENVS),
    default: 'openfaas',
    help: `${CGI_ENVS.join(' or ')}: rfc3875 also gives the process RFC 3875's REQUEST_METHOD, QUERY_STRING, PATH_INFO, CONTENT_LENGTH, HTTP_<NAME>... (docs/cgi.md)`,
    modes: FORK_MODES,
  }),
  row({
    name: 'max_output_bytes',
    key: 'maxOutputBytes',
    parse: int('a size in bytes', 0),
    default: DEFAULT_MAX_OUTPUT_BYTES,
    defaultText: '67108864 (64 MiB)',
    help: 'most function output a buffering mode holds; over it the process group is stopped and the call answered 500 (0 = unlimited)',
    modes: ['serializing', 'classic'],
  }),
  row({
    name: 'cgi_headers',
    key: 'cgiHeaders',
    parse: bool,
    default: true,
    help: 'pass request headers to the process as Http_* variables',
    modes: ['classic'],
  }),
  row({
    name: 'marshal_request',
    key: 'marshalRequest',
    parse: bool,
    default: false,
    help: 'send the request as JSON {header, body.raw (base64)} on stdin',
    modes: ['classic'],
  }),
  row({
    name: 'combine_output',
    key: 'combineOutput',
    parse: bool,
    // A CGI program's stderr is its log: merged into stdout it would break the header block.
    default: (c) => !(c.mode === 'classic' && c.cgiResponse === true),
    defaultText: 'true (false with cgi_response)',
    help: "merge the process's stderr into the response body",
    modes: ['classic'],
    check: (value, c) =>
      c.mode === 'classic' && c.cgiResponse && value
        ? 'combine_output=true cannot be used with cgi_response=true: stderr would be mixed into the CGI header block; remove combine_output (it defaults to false with cgi_response)'
        : undefined,
  }),
  row({
    name: 'write_debug',
    key: 'writeDebug',
    parse: bool,
    default: false,
    help: 'log each response body and extra request details',
    modes: ['classic'],
  }),
  row({
    name: 'debug_headers',
    key: 'debugHeaders',
    parse: bool,
    default: false,
    help: 'log request and response headers',
    modes: ['classic'],
  }),
  row({
    name: 'secret_mount_path',
    key: 'secretMountPath',
    parse: folder,
    default: '/var/openfaas/secrets',
    help: 'folder holding one file per secret; exported to the function',
  }),
  row({
    name: 'secrets',
    key: 'secrets',
    parse: secretNames,
    default: [],
    defaultText: '(none)',
    help: 'comma-separated secret names that must exist at start-up',
  }),
  row({
    name: 'auth_api_key_secret',
    key: 'authApiKeySecret',
    parse: secretName,
    default: undefined,
    defaultText: '(off)',
    help: 'name of a secret whose value every function request must carry',
  }),
  row({
    name: 'auth_api_key_header',
    key: 'authApiKeyHeader',
    parse: headerName,
    default: 'x-api-key',
    defaultText: 'X-Api-Key',
    help: 'header carrying the API key (Authorization: Bearer <key> is also accepted)',
  }),
  row({
    name: 'auth_hmac_secret',
    key: 'authHmacSecret',
    parse: secretName,
    default: undefined,
    defaultText: '(off)',
    help: 'name of a secret used to verify an HMAC-SHA256 signature of the request body (bodies up to max_body_bytes, or 64 MiB when unlimited, are held until verified)',
  }),
  row({
    name: 'auth_hmac_header',
    key: 'authHmacHeader',
    parse: headerName,
    default: 'x-hub-signature-256',
    defaultText: 'X-Hub-Signature-256',
    help: 'header carrying the body signature as sha256=<hex>',
  }),
  {
    name: 'jwt_auth',
    parse: bool,
    default: false,
    help: 'not supported (needs an OpenFaaS gateway); true is a start-up error, use auth_api_key_secret',
    check: (value: unknown) =>
      value === true
        ? "jwt_auth=true is not supported by fwatchdog (it needs an OpenFaaS gateway's OIDC issuer); use auth_api_key_secret or auth_hmac_secret"
        : undefined,
  } as Variable,
  row({
    name: 'OTEL_EXPORTER_OTLP_ENDPOINT',
    key: 'otlpEndpoint',
    parse: otlpUrl,
    default: undefined,
    defaultText: '(off)',
    help: 'OTLP/HTTP collector base URL: set, the watchdog exports a span per request to <url>/v1/traces (docs/tracing.md)',
  }),
  row({
    name: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
    key: 'otlpTracesEndpoint',
    parse: otlpUrl,
    default: undefined,
    defaultText: '(off)',
    help: 'full OTLP/HTTP traces URL, used as is; wins over OTEL_EXPORTER_OTLP_ENDPOINT',
  }),
  row({
    name: 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
    aliases: ['OTEL_EXPORTER_OTLP_PROTOCOL'],
    key: 'otlpProtocol',
    parse: oneOf(OTLP_PROTOCOLS),
    default: 'http/json',
    help: 'the OTLP encoding; only http/json (OTLP/HTTP with JSON bodies, which every collector, Jaeger and Tempo accept on port 4318)',
  }),
  row({
    name: 'OTEL_SERVICE_NAME',
    key: 'otelServiceName',
    parse: text,
    default: undefined,
    defaultText: "service.name of OTEL_RESOURCE_ATTRIBUTES, else the function's name (docs/tracing.md)",
    help: 'service.name of the exported spans',
  }),
  row({
    name: 'OTEL_RESOURCE_ATTRIBUTES',
    key: 'otelResourceAttributes',
    parse: text,
    default: undefined,
    defaultText: '(none)',
    help: 'key=value,... resource attributes of the exported spans (W3C Baggage-style, values percent-encoded)',
  }),
  row({
    name: 'OTEL_TRACES_SAMPLER',
    key: 'otelTracesSampler',
    parse: oneOf(TRACES_SAMPLERS),
    default: 'parentbased_always_on',
    help: "which requests get a span exported: parentbased_* follow the caller's traceparent sampled flag, *traceidratio keeps OTEL_TRACES_SAMPLER_ARG of them (checked here; the SDK applies it)",
  }),
  row({
    name: 'OTEL_TRACES_SAMPLER_ARG',
    key: 'otelTracesSamplerArg',
    parse: ratio,
    default: undefined,
    defaultText: '1 (every trace)',
    help: 'the ratio of traces the *traceidratio samplers keep, 0 to 1',
  }),
  row({ name: 'TMPDIR', key: 'tmpDir', parse: folder, default: '/tmp', help: 'folder of the lock file .lock' }),
];

/** The default as --help and the docs say it. */
export function defaultText(v: Variable): string {
  if (v.defaultText !== undefined) return v.defaultText;
  if (typeof v.default === 'function') throw new Error(`variable ${v.name}: a computed default needs defaultText`);
  return String(v.parse.print(v.default));
}
