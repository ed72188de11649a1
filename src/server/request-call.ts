// One function request as the server core hands it to a mode (and an Upgrade request with its socket).
import { ServerResponse, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { WatchdogError } from '../errors.js';
import type { CloseListener, FunctionCall, UpgradeCall } from '../modes/mode.js';
import type { TraceIds } from '../log/json-lines.js';
import { setRequestHeader, takeCallId } from '../trace/call-id.js';
import { requestTarget } from './clean-path.js';
import type { CallSpan, CallTracer } from '../trace/tracing.js';
import { parseTraceParent } from '../trace/traceparent.js';

/** One function request as the modes see it; its AbortSignal is only built if a mode asks for it (most never do). */
export class RequestCall implements FunctionCall {
  body: Readable;
  /** The client waits for `100 Continue` before it sends the body (not sent yet). */
  expectsContinue = false;
  bytesOut = 0;
  logStatus: number | undefined;
  onClose: CloseListener | undefined = undefined;
  readonly callId: string;
  /** The path and query the call routes by (absolute-form turned into origin-form); req.url is left as received. */
  readonly target: string;
  trace: TraceIds | undefined;
  span: CallSpan | undefined = undefined;
  private controller: AbortController | undefined;
  private cut = false;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly timeoutMs: number,
    readonly startedAt: number,
  ) {
    this.body = req;
    this.target = requestTarget(req.url);
    this.callId = takeCallId(req);
    this.trace = parseTraceParent(req.headers.traceparent as string | undefined);
  }

  /**
   * Tracing on: starts the watchdog's span of this call (it got its slot at `slotAt`); the function gets it as
   * its parent in `traceparent`, and the access line its ids.
   */
  startSpan(tracer: CallTracer, slotAt: number): void {
    const span = tracer.start(this.req, this.startedAt, this.callId);
    if (slotAt !== this.startedAt) span.event('queue.slot_acquired', slotAt);
    this.span = span;
    this.trace = span;
    setRequestHeader(this.req, 'traceparent', span.traceparent);
    (this.res as { span?: CallSpan }).span = span;
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.cut) this.controller.abort();
    }
    return this.controller.signal;
  }

  /** The response closed before it was finished (client gone, write_timeout): abort the call. */
  cutOff(): void {
    this.cut = true;
    this.controller?.abort();
  }
}

/** The client's connection of an Upgrade request, handed over by Node's 'upgrade' event. */
export interface Upgrading {
  socket: Socket;
  head: Buffer;
}

/** An Upgrade request: no body (a handshake with one is refused before), the socket for the tunnel. */
export class RequestUpgradeCall extends RequestCall implements UpgradeCall {
  readonly socket: Socket;
  readonly head: Buffer;

  constructor(
    req: IncomingMessage,
    res: ServerResponse,
    timeoutMs: number,
    startedAt: number,
    upgrading: Upgrading,
    private readonly onOpened: () => void,
  ) {
    super(req, res, timeoutMs, startedAt);
    this.body = Readable.from([]);
    this.socket = upgrading.socket;
    this.head = upgrading.head;
  }

  tunnelOpened(): void {
    this.res.detachSocket(this.socket);
    this.onOpened();
  }
}

/** write_timeout, as Go's WriteTimeout: an answer not written in time has its connection cut. */
export function onWriteTimeout(res: ServerResponse): void {
  if (!res.writableFinished) res.destroy(new WatchdogError('EXEC_TIMEOUT', 'write_timeout exceeded\n'));
}

/**
 * Upgrade (WebSocket) requests: Node hands them over with the raw socket; a ServerResponse is put on that
 * socket so they take the very path of any request (routing, max_inflight, the body rules, the guard, the
 * access log, the metrics). Only for a mode that tunnels them: elsewhere Node serves them as ordinary requests.
 */
export function acceptUpgrades(
  server: Server,
  onRequest: (req: IncomingMessage, res: ServerResponse, upgrading: Upgrading) => void,
): void {
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', () => socket.destroy()); // A client that vanished mid-handshake needs no answer.
    const res = new ServerResponse(req);
    res.shouldKeepAlive = false; // one exchange per connection: nothing after it is read as a request
    res.assignSocket(socket);
    // Not a tunnel after all: the connection ends with the answer. Destroyed once flushed, not just ended:
    // nobody reads this socket any more, so a client that sent more bytes would never be seen closing it.
    res.once('finish', () => {
      if (res.socket === socket) socket.destroySoon();
    });
    onRequest(req, res, { socket, head });
  });
}
