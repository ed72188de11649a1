// A real OTLP/HTTP receiver for the tracing tests: POST /v1/traces with the OTLP JSON encoding
// (ExportTraceServiceRequest, opentelemetry-proto's JSON mapping), decoded and checked for its structure.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { onTestFinished } from 'vitest';

/** One span as received, with its resource's and its own attributes as plain values. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  kind: number;
  scope: string;
  resource: Record<string, unknown>;
  attributes: Record<string, unknown>;
  events: string[];
  statusCode: number;
}

export interface OtlpReceiver {
  url: string;
  spans: ReceivedSpan[];
  /** Requests received (answered or held). */
  posts: number;
  /** hold: answer no export until release() (a slow collector). */
  hold(): void;
  release(): void;
}

type AnyValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
type KeyValue = { key: string; value: AnyValue };

function valueOf(v: AnyValue): unknown {
  if ('stringValue' in v) return v.stringValue;
  if ('intValue' in v) return Number(v.intValue);
  if ('boolValue' in v) return v.boolValue;
  if ('doubleValue' in v) return v.doubleValue;
  throw new Error(`unexpected AnyValue ${JSON.stringify(v)}`);
}

function attributesOf(list: KeyValue[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of list ?? []) out[kv.key] = valueOf(kv.value);
  return out;
}

const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;

/** Decodes an ExportTraceServiceRequest in OTLP JSON, throwing on anything that does not follow the definitions. */
export function decodeExport(body: string): ReceivedSpan[] {
  const request = JSON.parse(body) as { resourceSpans?: unknown };
  if (!Array.isArray(request.resourceSpans)) throw new Error('no resourceSpans');
  const spans: ReceivedSpan[] = [];
  for (const rs of request.resourceSpans as {
    resource?: { attributes?: KeyValue[] };
    scopeSpans: { scope?: { name: string }; spans: Record<string, unknown>[] }[];
  }[]) {
    const resource = attributesOf(rs.resource?.attributes);
    for (const ss of rs.scopeSpans) {
      for (const s of ss.spans) {
        const traceId = s.traceId as string;
        const spanId = s.spanId as string;
        const parent = s.parentSpanId as string | undefined;
        if (
          !HEX32.test(traceId) ||
          !HEX16.test(spanId) ||
          (parent !== undefined && parent !== '' && !HEX16.test(parent))
        )
          throw new Error(`bad ids in ${JSON.stringify(s)}`);
        if (
          !/^\d+$/.test(String(s.startTimeUnixNano)) ||
          BigInt(String(s.endTimeUnixNano)) < BigInt(String(s.startTimeUnixNano))
        )
          throw new Error(`bad times in ${JSON.stringify(s)}`);
        spans.push({
          traceId,
          spanId,
          parentSpanId: parent === '' ? undefined : parent,
          name: s.name as string,
          kind: s.kind as number,
          scope: ss.scope?.name ?? '',
          resource,
          attributes: attributesOf(s.attributes as KeyValue[]),
          events: ((s.events as { name: string }[] | undefined) ?? []).map((e) => e.name),
          statusCode: (s.status as { code?: number } | undefined)?.code ?? 0,
        });
      }
    }
  }
  return spans;
}

/** Starts a receiver on port 0 (closed at the end of the test). */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  let held: ServerResponse[] | undefined;
  const receiver: OtlpReceiver = {
    url: '',
    spans: [],
    posts: 0,
    hold: () => {
      held = [];
    },
    release: () => {
      for (const res of held ?? []) res.end('{}');
      held = undefined;
    },
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      receiver.posts++;
      if (req.method !== 'POST' || req.url !== '/v1/traces' || req.headers['content-type'] !== 'application/json') {
        res.writeHead(400).end();
        return;
      }
      receiver.spans.push(...decodeExport(Buffer.concat(chunks).toString('utf8')));
      res.setHeader('Content-Type', 'application/json');
      if (held !== undefined) held.push(res);
      else res.end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onTestFinished(() => {
    receiver.release();
    server.closeAllConnections();
    server.close();
  });
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return receiver;
}
