// The catalogue of every environment variable fwatchdog reads: names, aliases, defaults and meaning.

export type VarKind = 'duration' | 'int' | 'bool' | 'string' | 'enum' | 'list' | 'command';

export interface VariableSpec {
  /** The canonical name (the originals' spelling). */
  name: string;
  /** Other accepted names; the first one present wins over `name` (the originals' precedence). */
  aliases?: string[];
  kind: VarKind;
  /** The default as a user reads it in --help. */
  defaultText: string;
  help: string;
  /** Modes that read it; absent = all. */
  modes?: string[];
}

export const MODES = ['streaming', 'serializing', 'http', 'static', 'classic', 'inproc'] as const;
export type Mode = (typeof MODES)[number];

export const LOG_FORMATS = ['json', 'text'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** cgi_env: the originals' Http_* variables only, or also RFC 3875's meta-variables (docs/cgi.md). */
export const CGI_ENVS = ['openfaas', 'rfc3875'] as const;
export type CgiEnv = (typeof CGI_ENVS)[number];

export const VARIABLES: VariableSpec[] = [
  { name: 'mode', kind: 'enum', defaultText: 'streaming', help: `one of ${MODES.join(', ')}` },
  {
    name: 'fprocess',
    aliases: ['function_process'],
    kind: 'command',
    defaultText: '(required except in static mode)',
    help: 'the function command; split like shell words (quotes, backslashes), never run through a shell. inproc: the JavaScript/TypeScript module file to load (docs/inproc.md)',
  },
  { name: 'port', kind: 'int', defaultText: '8080', help: 'HTTP port (0 = any free port)' },
  { name: 'metrics_port', kind: 'int', defaultText: '8081', help: 'Prometheus /metrics port (0 = metrics server off)' },
  { name: 'read_timeout', kind: 'duration', defaultText: '30s', help: 'max time to read a whole request, headers and body (0 = no limit)' },
  { name: 'write_timeout', kind: 'duration', defaultText: '30s', help: 'max time to write a response once the request is read (0 = no limit); also bounds the shutdown drain' },
  {
    name: 'exec_timeout',
    kind: 'duration',
    defaultText: '30s (classic: 0 = off)',
    help: 'hard limit on one function call; the X-Timeout request header can only shorten it',
  },
  { name: 'healthcheck_interval', kind: 'duration', defaultText: 'write_timeout', help: 'after SIGTERM, how long to keep serving while unhealthy before draining (0 = no wait)' },
  { name: 'upstream_url', aliases: ['http_upstream_url'], kind: 'string', defaultText: '(required in http mode)', help: 'where the upstream server listens, e.g. http://127.0.0.1:5000', modes: ['http'] },
  { name: 'http_buffer_req_body', aliases: ['buffer_http'], kind: 'bool', defaultText: 'false', help: 'read the whole request body, then send it upstream with Content-Length (for WSGI servers)', modes: ['http'] },
  { name: 'content_type', kind: 'string', defaultText: 'application/octet-stream (classic: the request Content-Type)', help: 'response Content-Type', modes: ['streaming', 'serializing', 'classic'] },
  { name: 'static_path', kind: 'string', defaultText: '/home/app/public', help: 'folder served in static mode', modes: ['static'] },
  { name: 'suppress_lock', kind: 'bool', defaultText: 'false', help: 'do not write the lock file (health endpoints still report the real state)' },
  { name: 'max_inflight', kind: 'int', defaultText: '0 (unlimited)', help: 'concurrent function requests; more wait in the queue (max_queue) or get 429 at once' },
  { name: 'max_queue', kind: 'int', defaultText: '0 (no queue)', help: 'with max_inflight reached, how many requests may wait for a slot, in arrival order; more get 429 at once (docs/queue.md)' },
  { name: 'queue_timeout', kind: 'duration', defaultText: '10s', help: 'longest wait in the queue before a 429 (0 = until a slot frees or the client leaves)' },
  { name: 'prefix_logs', kind: 'bool', defaultText: 'true', help: 'prefix function output lines with time and stream name; false passes lines through untouched' },
  { name: 'log_buffer_size', kind: 'int', defaultText: '65536', help: 'longest function log line in bytes; longer lines are cut with a marker (negative = no limit)' },
  { name: 'ready_path', kind: 'string', defaultText: '(none)', help: 'path the function serves to say it is ready; /_/ready asks it' },
  { name: 'log_callid', aliases: ['log_call_id'], kind: 'bool', defaultText: 'false', help: 'append the X-Call-Id request header to access log lines' },
  { name: 'log_format', kind: 'enum', defaultText: 'json', help: `watchdog log lines as ${LOG_FORMATS.join(' or ')}` },
  { name: 'max_body_bytes', kind: 'int', defaultText: '0 (unlimited)', help: 'largest accepted request body; larger ones get 413' },
  { name: 'cgi_response', kind: 'bool', defaultText: 'false', help: 'stdout starts with a CGI header block (Status:, Content-Type:, other headers, an empty line), then the body (docs/cgi.md)', modes: ['streaming', 'serializing', 'classic'] },
  { name: 'cgi_env', kind: 'enum', defaultText: 'openfaas', help: `${CGI_ENVS.join(' or ')}: rfc3875 also gives the process RFC 3875's REQUEST_METHOD, QUERY_STRING, PATH_INFO, CONTENT_LENGTH, HTTP_<NAME>... (docs/cgi.md)`, modes: ['streaming', 'serializing', 'classic'] },
  {
    name: 'max_output_bytes',
    kind: 'int',
    defaultText: '67108864 (64 MiB)',
    help: "most function output a buffering mode holds; over it the process group is stopped and the call answered 500 (0 = unlimited)",
    modes: ['serializing', 'classic'],
  },
  { name: 'cgi_headers', kind: 'bool', defaultText: 'true', help: 'pass request headers to the process as Http_* variables', modes: ['classic'] },
  { name: 'marshal_request', kind: 'bool', defaultText: 'false', help: 'send the request as JSON {header, body.raw (base64)} on stdin', modes: ['classic'] },
  { name: 'combine_output', kind: 'bool', defaultText: 'true (false with cgi_response)', help: "merge the process's stderr into the response body", modes: ['classic'] },
  { name: 'write_debug', kind: 'bool', defaultText: 'false', help: 'log each response body and extra request details', modes: ['classic'] },
  { name: 'debug_headers', kind: 'bool', defaultText: 'false', help: 'log request and response headers', modes: ['classic'] },
  { name: 'secret_mount_path', kind: 'string', defaultText: '/var/openfaas/secrets', help: 'folder holding one file per secret; exported to the function' },
  { name: 'secrets', kind: 'list', defaultText: '(none)', help: 'comma-separated secret names that must exist at start-up' },
  { name: 'auth_api_key_secret', kind: 'string', defaultText: '(off)', help: 'name of a secret whose value every function request must carry' },
  { name: 'auth_api_key_header', kind: 'string', defaultText: 'X-Api-Key', help: 'header carrying the API key (Authorization: Bearer <key> is also accepted)' },
  { name: 'auth_hmac_secret', kind: 'string', defaultText: '(off)', help: 'name of a secret used to verify an HMAC-SHA256 signature of the request body (bodies up to max_body_bytes, or 64 MiB when unlimited, are held until verified)' },
  { name: 'auth_hmac_header', kind: 'string', defaultText: 'X-Hub-Signature-256', help: 'header carrying the body signature as sha256=<hex>' },
  { name: 'jwt_auth', kind: 'bool', defaultText: 'false', help: 'not supported (needs an OpenFaaS gateway); true is a start-up error, use auth_api_key_secret' },
  { name: 'TMPDIR', kind: 'string', defaultText: '/tmp', help: 'folder of the lock file .lock' },
];
