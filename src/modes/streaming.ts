// Streaming mode: one process per request, body to stdin and stdout to the client as it comes.
import type { Writable } from 'node:stream';
import { WatchdogError, sendError } from '../errors.js';
import { formatDuration } from '../config/duration.js';
import { CgiHeadReader, badCgiResponse, writeCgiHead, type CgiHead } from './cgi-response.js';
import { describeExit } from '../process/describe-exit.js';
import { createForkRunner, ignorePipeErrors, forkModeRunner, startFailure } from './fork-runner.js';
import type { FunctionCall, ModeDeps, ModeRunner } from './mode.js';

export function createStreamingMode(deps: ModeDeps): ModeRunner {
  const { logger, events } = deps;
  const contentType = deps.config.contentType;
  const cgiResponse = deps.config.cgiResponse;
  const runner = createForkRunner(deps);

  function handle(call: FunctionCall): void {
    const { res, body } = call;
    // The body may have failed before the mode got it (413 from the size limit on a chunked body).
    if (body.errored) {
      const err = body.errored;
      if (err instanceof WatchdogError) sendError(res, err);
      else res.destroy();
      return;
    }
    let started = false;
    const failEarly = (err: WatchdogError): void => {
      call.logStatus = err.status;
      // Once the 200 is on the wire a status cannot be sent: abort so a cut body never looks like success.
      if (started) res.destroy(err);
      else sendError(res, err);
    };
    const forked = runner.fork(call, {
      classic: false,
      cgi: true,
      logStderr: true,
      onTimeout: () => {
        const reason = `exec_timeout of ${formatDuration(call.timeoutMs)} exceeded`;
        logger.warn(`function killed: ${reason}`, { url: call.target });
        failEarly(new WatchdogError('EXEC_TIMEOUT', `${reason}\n`));
      },
    });
    const child = forked.proc.child;
    // No pipes when the process could not be started (EMFILE: no fds left for them); its outcome answers the 500.
    const stdin = child.stdin as Writable | null;
    const stdout = child.stdout;
    ignorePipeErrors(stdin);

    body.on('error', (err) => {
      forked.proc.stop('error');
      if (err instanceof WatchdogError) sendError(res, err);
      else res.destroy();
    });
    if (stdin) body.pipe(stdin);
    else body.resume();
    // Both directions make garbage chunks: the body (an upload) and stdout (a download).
    const reclaim = deps.reclaim;
    if (reclaim) body.on('data', (chunk: Buffer) => reclaim.moved(chunk.length));

    const begin = (): void => {
      started = true;
      if (contentType !== undefined) res.setHeader('Content-Type', contentType);
      res.writeHead(200);
    };

    // cgi_response=true: the header block is read first, then the body streams. A declared
    // Content-Length is sent on and held to: a body longer or shorter than it cuts the connection.
    const reader = cgiResponse ? new CgiHeadReader() : undefined;
    let declared: number | undefined;
    const badOutput = (reason: string): void => {
      logger.warn(`function wrote a bad CGI response: ${reason}`, { url: call.target });
      events.badCgiResponse();
      forked.proc.stop('error');
      call.logStatus = 502;
      if (started) res.destroy(badCgiResponse(reason));
      else sendError(res, badCgiResponse(reason));
    };
    const beginCgi = (head: CgiHead): void => {
      started = true;
      if (head.contentLength !== undefined) {
        res.setHeader('Content-Length', String(head.contentLength));
        if (call.req.method !== 'HEAD') declared = head.contentLength;
      }
      writeCgiHead(res, head, {}, contentType);
    };
    /** Writes body bytes; false when they broke the declared Content-Length (the answer is cut). */
    const writeBody = (chunk: Buffer): boolean => {
      if (declared !== undefined && call.bytesOut + chunk.length > declared) {
        badOutput(`the body is longer than its Content-Length: ${declared}`);
        return false;
      }
      call.bytesOut += chunk.length;
      return res.write(chunk);
    };

    if (stdout) {
      stdout.on('data', (chunk: Buffer) => {
        reclaim?.moved(chunk.length);
        if (res.writableEnded || res.destroyed) return;
        if (!started) {
          if (reader !== undefined) {
            const parsed = reader.push(chunk);
            if (parsed === undefined) return; // the header block is not complete yet
            if (parsed.kind === 'bad') return badOutput(parsed.reason);
            beginCgi(parsed.head);
            chunk = parsed.body;
            if (chunk.length === 0) return;
          } else begin();
        }
        if (!writeBody(chunk)) stdout.pause();
      });
      res.on('drain', () => stdout.resume());
    }

    forked.outcome.then(
      (o) => {
        if (res.destroyed || res.writableEnded) return;
        if (o.code === 0 && o.stoppedBy === undefined) {
          if (reader !== undefined) {
            if (!started) {
              const parsed = reader.end() ?? { kind: 'bad', reason: 'no CGI header block' };
              if (parsed.kind === 'bad') return badOutput(parsed.reason);
              beginCgi(parsed.head);
              if (parsed.body.length > 0 && !writeBody(parsed.body) && res.destroyed) return;
            }
            if (declared !== undefined && call.bytesOut !== declared)
              return badOutput(`the body has ${call.bytesOut} bytes but its Content-Length is ${declared}`);
            res.end();
            return;
          }
          if (!started) {
            if (contentType !== undefined) res.setHeader('Content-Type', contentType);
            res.setHeader('Content-Length', '0');
            res.writeHead(200);
          }
          res.end();
          return;
        }
        if (o.startError !== undefined) {
          const err = startFailure(o, logger, call.target);
          failEarly(err);
          return;
        }
        const reason = describeExit(o);
        logger.warn(`function failed: ${reason}`, { url: call.target });
        failEarly(new WatchdogError('PROCESS_FAILED', `${reason}\n`));
      },
      () => res.destroy(),
    );
  }

  return forkModeRunner(runner, handle);
}
