// The request body as it goes upstream: read whole first (small, or http_buffer_req_body), or streamed with a replay for one retry.
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { BodyBuffer } from '../read-body.js';

/**
 * A request body with a known length up to this size is read whole before it is sent: headers and
 * body then leave in one write, and a retry can replay it. Larger or chunked bodies are streamed.
 */
const WHOLE_BODY_MAX_BYTES = 64 * 1024;

/** Body bytes of a streamed request kept to replay it once when a reused idle connection turns out closed. */
const REPLAY_MAX_BYTES = 64 * 1024;

/** True when the body is read whole before it is sent: http_buffer_req_body, or a declared length up to 64 KiB. */
export function sendsWholeBody(req: IncomingMessage, bufferBody: boolean): boolean {
  const declared = req.headers['content-length'];
  return bufferBody || (declared !== undefined && Number(declared) <= WHOLE_BODY_MAX_BYTES);
}

/** Collects the body in one buffer sized from `declared` (Content-Length, 0 when unknown), then calls `done` with it (null when empty) and its length. */
export function readWholeBody(
  body: Readable,
  declared: number,
  done: (whole: Buffer | null, length: number) => void,
): void {
  const buffer = new BodyBuffer(declared);
  body.on('data', (chunk: Buffer) => buffer.add(chunk));
  body.on('end', () => done(buffer.size === 0 ? null : buffer.result(), buffer.size));
}

/** The streamed request body as undici reads it; a retry gets a fresh one that replays what was kept. */
class BodyRelay extends Readable {
  constructor(private readonly source: Readable) {
    super();
  }
  override _read(): void {
    this.source.resume();
  }
}

/**
 * A streamed body: relays the client's chunks to undici (pausing the client when undici is full) and
 * keeps the first REPLAY_MAX_BYTES, so that a retry can send them again. Stops once `owner` is finished.
 */
export class StreamedBody {
  /** What undici reads now. */
  relay: Readable;
  private replay: Buffer[] | undefined = [];
  private replayBytes = 0;
  private ended = false;

  constructor(
    private readonly source: Readable,
    private readonly owner: { readonly finished: boolean },
  ) {
    source.on('data', (chunk: Buffer) => this.data(chunk));
    source.on('end', () => {
      this.ended = true;
      if (!owner.finished) this.relay.push(null);
    });
    this.relay = new BodyRelay(source);
  }

  /** True while everything sent so far can be sent again. */
  get canReplay(): boolean {
    return this.replay !== undefined;
  }

  /** The upstream answered: nothing will be replayed. */
  dropReplay(): void {
    this.replay = undefined;
  }

  /** A fresh relay for the retry: what was kept, then the rest of the body as it comes. */
  restart(): Readable {
    const relay = new BodyRelay(this.source);
    for (const chunk of this.replay as Buffer[]) relay.push(chunk);
    if (this.ended) relay.push(null);
    this.relay = relay;
    return relay;
  }

  private data(chunk: Buffer): void {
    if (this.owner.finished) return;
    if (this.replay !== undefined) {
      this.replayBytes += chunk.length;
      if (this.replayBytes > REPLAY_MAX_BYTES) this.replay = undefined;
      else this.replay.push(chunk);
    }
    if (!this.relay.push(chunk)) this.source.pause();
  }
}
