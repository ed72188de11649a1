// The --help text and the --print-config view of a configuration.
import type { WatchdogConfig } from './load-config.js';
import { formatDuration } from './duration.js';
import { VARIABLES } from './variables.js';

export function helpText(): string {
  const lines = [
    'fwatchdog: the OpenFaaS function watchdog (classic, streaming, serializing, http, static modes)',
    '',
    'Usage: fwatchdog [--help] [--version] [--run-healthcheck] [--print-config]',
    '',
    '  --version          print the version and exit',
    '  --run-healthcheck  exit 0 if the lock file $TMPDIR/.lock exists, else 1 (for HEALTHCHECK)',
    '  --print-config     print the effective configuration as JSON (secrets are never shown) and exit',
    '',
    'Configuration is read from environment variables. Durations are whole seconds (30) or Go',
    'durations (1m30s, 1.5s, 500ms). Booleans: true/false, 1/0, yes/no, on/off. Any value that does',
    'not parse stops the watchdog at start-up (exit code 2) with every problem listed.',
    '',
  ];
  const width = Math.max(...VARIABLES.map((v) => (v.name + (v.aliases ? ` (${v.aliases.join(', ')})` : '')).length));
  for (const v of VARIABLES) {
    const name = v.name + (v.aliases ? ` (${v.aliases.join(', ')})` : '');
    const modes = v.modes ? ` [${v.modes.join(', ')}]` : '';
    lines.push(`  ${name.padEnd(width)}  ${v.help}${modes}`);
    lines.push(`  ${''.padEnd(width)}  default: ${v.defaultText}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The effective configuration, in the environment's own names and units. */
export function printableConfig(config: WatchdogConfig, programPath: string | undefined): Record<string, unknown> {
  return {
    mode: config.mode,
    fprocess: config.fprocess,
    argv: config.argv,
    program_path: programPath,
    port: config.port,
    metrics_port: config.metricsPort,
    read_timeout: formatDuration(config.readTimeoutMs),
    write_timeout: formatDuration(config.writeTimeoutMs),
    exec_timeout: formatDuration(config.execTimeoutMs),
    healthcheck_interval: formatDuration(config.healthcheckIntervalMs),
    upstream_url: config.upstreamUrl?.href,
    http_buffer_req_body: config.bufferHttpBody,
    content_type: config.contentType,
    static_path: config.staticPath,
    suppress_lock: config.suppressLock,
    max_inflight: config.maxInflight,
    max_queue: config.maxQueue,
    queue_timeout: formatDuration(config.queueTimeoutMs),
    prefix_logs: config.prefixLogs,
    log_buffer_size: Number.isFinite(config.logBufferSize) ? config.logBufferSize : -1,
    ready_path: config.readyPath,
    log_callid: config.logCallId,
    log_format: config.logFormat,
    max_body_bytes: config.maxBodyBytes,
    max_output_bytes: config.maxOutputBytes,
    cgi_headers: config.cgiHeaders,
    cgi_response: config.cgiResponse,
    cgi_env: config.cgiEnv,
    marshal_request: config.marshalRequest,
    combine_output: config.combineOutput,
    write_debug: config.writeDebug,
    debug_headers: config.debugHeaders,
    lock_file: config.lockFilePath,
    secret_mount_path: config.secretMountPath,
    secrets: config.secrets,
    auth_api_key_secret: config.authApiKeySecret,
    auth_api_key_header: config.authApiKeyHeader,
    auth_hmac_secret: config.authHmacSecret,
    auth_hmac_header: config.authHmacHeader,
  };
}
