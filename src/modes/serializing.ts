// Serializing mode: one process per request, the whole body in, the whole stdout out.
import type { Writable } from 'node:stream';
import { WatchdogError, sendError } from '../errors.js';
import { formatDuration } from '../config/duration.js';
import { answerCgiOutput } from './cgi-response.js';
import { describeExit } from '../process/describe-exit.js';
import { createForkRunner, ignorePipeErrors, forkModeRunner, outputBound, startFailure } from './fork-runner.js';
import type { FunctionCall, ModeDeps, ModeRunner } from './mode.js';
import { durationSeconds } from './duration-seconds.js';
import { declaredLength, readBody } from './read-body.js';

/** Builds the serializing mode: of-watchdog's outcomes, with the process group ended on timeout. */
export function createSerializingMode(deps: ModeDeps): ModeRunner {
  const { logger } = deps;
  const cgiResponse = deps.config.cgiResponse;
  const contentType = deps.config.contentType ?? 'application/octet-stream';
  const runner = createForkRunner(deps);

  /** Headers of every answer (of-watchdog sets both before running the function). */
  const headersFor = (call: FunctionCall): Record<string, string> => ({
    'Content-Type': contentType,
    'X-Duration-Seconds': durationSeconds(call.startedAt),
  });

  function fail(call: FunctionCall, err: WatchdogError): void {
    call.logStatus = err.status;
    sendError(call.res, err, headersFor(call));
  }

  function run(call: FunctionCall, input: Buffer): void {
    const { res } = call;
    const forked = runner.fork(call, {
      classic: false,
      cgi: true,
      bodyLength: input.length,
      logStderr: true,
      onTimeout: () => {
        logger.warn(`function killed: exec_timeout of ${formatDuration(call.timeoutMs)} exceeded`, {
          url: call.target,
        });
        // Answered now, not once the group is gone: a grandchild holding stdout cannot delay it.
        fail(call, new WatchdogError('SERIALIZING_TIMEOUT', 'signal: killed'));
      },
    });
    const child = forked.proc.child;
    ignorePipeErrors(child.stdin);
    (child.stdin as Writable | null)?.end(input);
    const chunks: Buffer[] = [];
    const bound = outputBound(deps, call, forked.proc, (err) => {
      chunks.length = 0;
      fail(call, err);
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      if (bound.add(chunk)) chunks.push(chunk);
    });

    forked.outcome.then(
      (o) => {
        if (res.headersSent || res.destroyed || forked.timedOut || bound.over) return;
        if (o.startError !== undefined) {
          fail(call, startFailure(o, logger, call.target, false));
          return;
        }
        if (o.code !== 0 || o.signal !== null) {
          const reason = describeExit(o);
          logger.warn(`function failed: ${reason}`, { url: call.target });
          // of-watchdog discards stdout on failure and answers the bare reason, with no newline.
          fail(call, new WatchdogError('PROCESS_FAILED', reason));
          return;
        }
        const out = Buffer.concat(chunks, bound.size);
        if (cgiResponse) {
          // cgi_response=true: the status and headers come from the output's header block.
          answerCgiOutput(
            call,
            out,
            deps,
            () => contentType,
            (err) => fail(call, err),
          );
          return;
        }
        call.bytesOut = out.length;
        res.writeHead(200, { ...headersFor(call), 'Content-Length': String(out.length) });
        res.end(out);
      },
      () => res.destroy(),
    );
  }

  function handle(call: FunctionCall): void {
    readBody(call.body, declaredLength(call.req))
      .then(
        (input) => {
          // A client that went away leaves a destroyed response (call.signal is not built for this).
          if (call.res.destroyed) return;
          run(call, input);
        },
        (err: WatchdogError) => fail(call, err),
      )
      .catch((err: unknown) => {
        // Nothing above should throw (spawn reports failures as events); if it does, answer once.
        logger.error('serializing request failed', { err: String(err) });
        fail(call, new WatchdogError('PROCESS_FAILED', 'internal error', { cause: err }));
      });
  }

  return forkModeRunner(runner, handle);
}
