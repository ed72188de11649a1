// Classic mode: the classic watchdog's fork per request, buffered, with its CGI env and options.
import { sniffContentType } from './sniff-content-type.js';
import type { Writable } from 'node:stream';
import type { StdioOptions } from 'node:child_process';
import { WatchdogError, sendError } from '../errors.js';
import { formatDuration } from '../config/duration.js';
import { CUT_MARKER } from '../log/line-reader.js';
import { decodePath, splitTarget } from '../process/cgi-env.js';
import { createSocketPair } from '../process/socket-pair.js';
import { answerCgiOutput } from './cgi-response.js';
import { describeExit } from '../process/describe-exit.js';
import {
  createForkRunner,
  ignorePipeErrors,
  forkModeRunner,
  outputBound,
  startFailure,
  type ForkedCall,
} from './fork-runner.js';
import { goHeaderMap, marshalRequest } from './marshal-request.js';
import type { FunctionCall, ModeDeps, ModeRunner } from './mode.js';
import { durationSeconds } from './duration-seconds.js';
import { declaredLength, readBody } from './read-body.js';

const TIMEOUT_BODY = 'Killed process.\n';
/** Header values never written to the log by debug_headers. */
const ALWAYS_REDACTED = ['authorization', 'proxy-authorization', 'cookie', 'set-cookie'];
/** Header names that look like they carry a credential; their values are never logged either. */
const TOKEN_LIKE = /auth|token|secret|key|signature|session|cookie|password|passwd|credential/i;

/** The lines of function output, without the newline that ends the last one. */
function outputLines(text: string): string[] {
  return (text.endsWith('\n') ? text.slice(0, -1) : text).split('\n');
}

/** Builds the classic mode (cgi_headers, marshal_request, combine_output, write_debug, debug_headers). */
export function createClassicMode(deps: ModeDeps): ModeRunner {
  const { config, logger, events } = deps;
  const runner = createForkRunner(deps);
  // The classic per-request lines are the originals' text lines; JSON logs have the access line instead.
  const classicLines = config.logFormat === 'text';
  const writeDebug = config.writeDebug;
  const combine = config.combineOutput;
  const maxLogBytes = config.logBufferSize;
  // The classic `stderr:` line carries the call id in JSON, and in text with log_callid.
  const idFields = config.logFormat === 'json' || config.logCallId;
  const redacted = new Set([...ALWAYS_REDACTED, config.authApiKeyHeader, config.authHmacHeader]);

  function logHeaders(direction: 'in' | 'out', headers: Iterable<[string, readonly string[]]>): void {
    for (const [key, values] of headers) {
      const shown = redacted.has(key.toLowerCase()) || TOKEN_LIKE.test(key) ? '[redacted]' : values.join(' ');
      logger.debug(`[${direction}] ${key}=[${shown}]`);
    }
  }

  function logOutput(out: Buffer, callId: string): void {
    if (out.length === 0) return;
    for (const line of outputLines(out.toString('utf8'))) {
      if (Buffer.byteLength(line) <= maxLogBytes) {
        logger.functionLine('stdout', line, callId);
        continue;
      }
      events.logLineCut();
      logger.functionLine('stdout', Buffer.from(line).subarray(0, maxLogBytes).toString('utf8') + CUT_MARKER, callId);
    }
  }

  /** A failure answer whose body may carry the function's output (binary-safe). */
  function sendFailure(call: FunctionCall, head: string, out: Buffer): void {
    const { res } = call;
    call.logStatus = 500;
    const body = out.length === 0 ? Buffer.from(head) : Buffer.concat([Buffer.from(head), out]);
    if (!res.headersSent && !res.destroyed) call.bytesOut = body.length;
    sendError(res, new WatchdogError('PROCESS_FAILED', body));
  }

  /** The classic watchdog's lines after an answer: the output itself with write_debug, else "Wrote <n> Bytes" (text logs). */
  function logWrote(out: Buffer, seconds: string, callId: string): void {
    if (writeDebug) {
      logOutput(out, callId);
      logger.debug(`Duration: ${seconds}s`);
    } else if (classicLines) {
      logger.info(`Wrote ${out.length} Bytes - Duration: ${seconds}s`);
    }
  }

  /** cgi_response=true: the status and headers come from the output's header block. */
  function succeedCgi(call: FunctionCall, out: Buffer): void {
    const { res } = call;
    // The function's Content-Type, else content_type, else what Go's net/http would sniff (never the request's).
    const written = answerCgiOutput(
      call,
      out,
      deps,
      (body) => config.contentType ?? sniffContentType(body),
      (err) => {
        call.logStatus = err.status;
        sendError(res, err);
      },
    );
    if (written === undefined) return;
    logWrote(written.body, written.seconds, call.callId);
    if (config.debugHeaders)
      logHeaders(
        'out',
        Object.entries(res.getHeaders()).map(([name, value]) => [name, Array.isArray(value) ? value : [String(value)]]),
      );
  }

  function succeed(call: FunctionCall, out: Buffer): void {
    if (config.cgiResponse) {
      succeedCgi(call, out);
      return;
    }
    const { req, res } = call;
    const seconds = durationSeconds(call.startedAt);
    // content_type, else the request's Content-Type, else what Go's net/http would sniff.
    const contentType = config.contentType ?? req.headers['content-type'] ?? sniffContentType(out);
    const headers: Record<string, string> = {};
    if (contentType !== undefined && contentType !== '') headers['Content-Type'] = contentType;
    headers['X-Duration-Seconds'] = seconds;
    headers['Content-Length'] = String(out.length);
    call.bytesOut = out.length;
    res.writeHead(200, headers);
    res.end(out);
    logWrote(out, seconds, call.callId);
    if (config.debugHeaders)
      logHeaders(
        'out',
        Object.entries(headers).map(([name, value]) => [name, [value]]),
      );
  }

  /** Runs the function with `input` on its stdin (the body, or its marshal_request JSON). */
  async function run(call: FunctionCall, input: Buffer): Promise<void> {
    const { res } = call;
    // With the spawn addon, combine_output's shared socket is made with the process (read per call: the addon loads after ready).
    const nativeCombine = combine && deps.spawner.native;
    if (writeDebug && config.cgiHeaders) {
      const { path, query } = splitTarget(call.target);
      logger.debug(`Query  ${query}`);
      logger.debug(`Path  ${decodePath(path)}`);
    }
    // combine_output: one socket as fd 1 and fd 2 keeps stdout and stderr in the order they were written
    // (the spawn addon makes it with the process; child_process needs a pair made here).
    let pair: Awaited<ReturnType<typeof createSocketPair>> | undefined;
    try {
      pair = combine && !nativeCombine ? await createSocketPair() : undefined;
    } catch (err) {
      // No fd left for the channel (EMFILE): the function cannot be started either.
      const failed = startFailure(
        { code: null, signal: null, startError: err as Error, stoppedBy: undefined },
        logger,
        call.target,
      );
      call.logStatus = failed.status;
      sendError(res, failed);
      return;
    }
    if (res.destroyed) {
      pair?.parentEnd.destroy();
      pair?.childEnd.destroy();
      return;
    }
    const stdio: StdioOptions = pair ? ['pipe', pair.childEnd, pair.childEnd] : ['pipe', 'pipe', 'pipe'];
    let forked: ForkedCall;
    try {
      forked = runner.fork(call, {
        classic: true,
        cgi: config.cgiHeaders,
        bodyLength: input.length,
        logStderr: false,
        stdio,
        ...(pair ? { outputs: [pair.parentEnd] } : {}),
        ...(nativeCombine ? { combineOutput: true } : {}),
        onTimeout: () => {
          logger.warn(`Killing process: ${config.fprocess}`, {
            after: formatDuration(call.timeoutMs),
            url: call.target,
          });
          call.logStatus = 408;
          // Written once, at the timeout; the group is ended in the background.
          sendError(res, new WatchdogError('CLASSIC_TIMEOUT', TIMEOUT_BODY));
        },
      });
    } catch (err) {
      pair?.parentEnd.destroy();
      throw err;
    } finally {
      // The child holds its own copies of the socket now; ours would keep the channel open forever.
      pair?.childEnd.destroy();
    }
    const child = forked.proc.child;
    const chunks: Buffer[] = [];
    const bound = outputBound(deps, call, forked.proc, (err) => {
      chunks.length = 0;
      call.logStatus = err.status;
      sendError(res, err);
    });
    const collect = (chunk: Buffer): void => {
      if (bound.add(chunk)) chunks.push(chunk);
    };
    if (pair) {
      pair.parentEnd.on('error', ignoreResetError);
      pair.parentEnd.on('data', collect);
    } else {
      if (nativeCombine) child.stdout?.on('error', ignoreResetError);
      child.stdout?.on('data', collect);
    }
    const errChunks: Buffer[] = [];
    let errBytes = 0;
    if (!combine) {
      // Kept up to log_buffer_size for the one `stderr:` line; the rest is read and dropped.
      child.stderr?.on('data', (chunk: Buffer) => {
        if (errBytes <= maxLogBytes) errChunks.push(chunk);
        errBytes += chunk.length;
      });
    }
    ignorePipeErrors(child.stdin);
    (child.stdin as Writable | null)?.end(input);

    const o = await forked.outcome;
    if (errBytes > 0) {
      const all = Buffer.concat(errChunks);
      if (errBytes > maxLogBytes) events.logLineCut();
      const text =
        errBytes > maxLogBytes ? all.subarray(0, maxLogBytes).toString('utf8') + CUT_MARKER : all.toString('utf8');
      // One `stderr:` line per line written: the logger escapes control characters, newlines included.
      for (const line of outputLines(text))
        logger.info(`stderr: ${line}`, idFields ? { callId: call.callId } : undefined);
    }
    if (res.headersSent || res.destroyed || forked.timedOut || bound.over) {
      pair?.parentEnd.destroy();
      return;
    }
    const out = Buffer.concat(chunks);
    if (o.startError !== undefined) {
      if (writeDebug) logger.debug(`Success=false, Error=${describeExit(o)}`);
      const err = startFailure(o, logger, call.target);
      call.logStatus = err.status;
      sendError(res, err);
      return;
    }
    if (o.code !== 0 || o.signal !== null) {
      const reason = describeExit(o);
      if (writeDebug) {
        logger.debug(`Success=false, Error=${reason}`);
        for (const line of outputLines(out.toString('utf8'))) logger.debug(`Out=${line}`);
      }
      sendFailure(call, `${reason}\n`, out);
      return;
    }
    succeed(call, out);
  }

  function handle(call: FunctionCall): void {
    if (config.debugHeaders) logHeaders('in', goHeaderMap(call.req.rawHeaders));
    if (classicLines) logger.info('Forking fprocess.');
    readBody(call.body, declaredLength(call.req))
      .then(
        (body) => {
          // A client that went away leaves a destroyed response (call.signal is not built for this).
          if (call.res.destroyed) return undefined;
          // marshal_request: the JSON replaces the body here, so only the JSON is held while the function runs.
          return run(call, config.marshalRequest ? marshalRequest(call.req.rawHeaders, body) : body);
        },
        (err: WatchdogError) => {
          if (writeDebug) logger.debug(`Error=${err.message}, ReadLen=0`);
          call.logStatus = err.status;
          sendError(call.res, err);
        },
      )
      .catch((err: unknown) => {
        // Nothing above should throw; if it does, the request still ends exactly once.
        logger.error('classic request failed', { err: String(err) });
        call.logStatus = 500;
        sendError(call.res, new WatchdogError('PROCESS_FAILED', 'internal error\n', { cause: err }));
      });
  }

  return forkModeRunner(runner, handle);
}

function ignoreResetError(): void {
  // The function's end of the output socket went away abruptly (killed); what was read is kept.
}
