// W3C Trace Context (https://www.w3.org/TR/trace-context/): the traceparent header, parsed and made.

/** The ids of a traceparent: trace-id (32 hex), parent-id (16 hex) and the flags byte (2 hex). */
export interface TraceParent {
  traceId: string;
  spanId: string;
  flags: string;
}

const ZERO_TRACE = '00000000000000000000000000000000';
const ZERO_SPAN = '0000000000000000';

function isLowerHex(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

/**
 * The ids of a traceparent header, or undefined when it is not a valid one (version ff, all-zero ids,
 * bad hex or length). A version above 00 may carry more fields after the four of version 00.
 */
export function parseTraceParent(header: string | undefined): TraceParent | undefined {
  if (header === undefined || header.length < 55) return undefined;
  if (header.charCodeAt(2) !== 45 || header.charCodeAt(35) !== 45 || header.charCodeAt(52) !== 45) return undefined;
  if (!isLowerHex(header, 0, 2) || header.startsWith('ff')) return undefined;
  if (header.length > 55 && (header.startsWith('00') || header.charCodeAt(55) !== 45)) return undefined;
  if (!isLowerHex(header, 3, 35) || !isLowerHex(header, 36, 52) || !isLowerHex(header, 53, 55)) return undefined;
  const traceId = header.slice(3, 35);
  const spanId = header.slice(36, 52);
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  return { traceId, spanId, flags: header.slice(53, 55) };
}

/** A version-00 traceparent header. */
export function formatTraceParent(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
}
