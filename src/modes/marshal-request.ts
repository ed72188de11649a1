// classic's marshal_request: the request as the JSON document Go's json.Marshal gives, byte for byte.
import { canonicalHeaderKey } from '../process/cgi-env.js';

/**
 * The header map Go's net/http hands a handler, from Node's `rawHeaders`: canonical names, every
 * value in arrival order, without Host and Transfer-Encoding (Go moves those out of the map), and
 * with Go's `Pragma: no-cache` => `Cache-Control: no-cache` fix-up.
 */
export function goHeaderMap(rawHeaders: readonly string[]): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const key = canonicalHeaderKey(rawHeaders[i] as string);
    if (key === 'Host' || key === 'Transfer-Encoding') continue;
    const value = rawHeaders[i + 1] as string;
    const values = map.get(key);
    if (values === undefined) map.set(key, [value]);
    else values.push(value);
  }
  if (map.get('Pragma')?.[0] === 'no-cache' && !map.has('Cache-Control')) map.set('Cache-Control', ['no-cache']);
  return map;
}

/**
 * `{"header":{...},"body":{"raw":"<base64>"}}` exactly as classic-watchdog writes it: keys sorted,
 * Go's HTML-safe string escaping, the body in standard base64 with padding.
 */
export function marshalRequest(rawHeaders: readonly string[], body: Buffer): Buffer {
  const map = goHeaderMap(rawHeaders);
  const keys = [...map.keys()].sort(compareBytes);
  let json = '{"header":{';
  for (let k = 0; k < keys.length; k++) {
    const key = keys[k] as string;
    if (k > 0) json += ',';
    json += `${goJsonString(key)}:[`;
    const values = map.get(key) as string[];
    for (let v = 0; v < values.length; v++) {
      if (v > 0) json += ',';
      json += goJsonString(values[v] as string);
    }
    json += ']';
  }
  json += '},"body":{"raw":"';
  // One buffer of the document's exact size: the base64 goes in by slices, never as one string
  // (that string, and the document built around it, would be two more copies of the body).
  const head = Buffer.byteLength(json, 'utf8');
  const encoded = 4 * Math.ceil(body.length / 3);
  const out = Buffer.allocUnsafe(head + encoded + TAIL.length);
  let at = out.write(json, 0, 'utf8');
  for (let i = 0; i < body.length; i += BASE64_SLICE)
    at += out.write(body.toString('base64', i, Math.min(i + BASE64_SLICE, body.length)), at, 'latin1');
  out.write(TAIL, at, 'latin1');
  return out;
}

const TAIL = '"}}';
/** Body bytes encoded per slice: a multiple of 3, so no slice but the last has padding. */
const BASE64_SLICE = 3 * 256 * 1024;

function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const NEEDS_CARE = /[^\x20-\x7e]|[<>&"\\]/;
const SHORT_ESCAPES: Record<number, string> = {
  0x22: '\\"',
  0x5c: '\\\\',
  0x0a: '\\n',
  0x0d: '\\r',
  0x09: '\\t',
  0x08: '\\b',
  0x0c: '\\f',
};

/**
 * A header string as Go's encoding/json writes it. Node gives header bytes as latin1 characters;
 * Go sees the raw bytes: valid UTF-8 is written as is, each invalid byte as the escape \ufffd,
 * and <, >, &, U+2028, U+2029 and control characters are escaped.
 */
export function goJsonString(latin1: string): string {
  if (!NEEDS_CARE.test(latin1)) return `"${latin1}"`;
  let out = '"';
  const n = latin1.length;
  let i = 0;
  while (i < n) {
    const b0 = latin1.charCodeAt(i);
    if (b0 < 0x80) {
      const short = SHORT_ESCAPES[b0];
      if (short !== undefined) out += short;
      else if (b0 < 0x20 || b0 === 0x3c || b0 === 0x3e || b0 === 0x26)
        out += `\\u00${b0.toString(16).padStart(2, '0')}`;
      else out += latin1[i];
      i++;
      continue;
    }
    const [cp, size] = decodeRune(latin1, i, b0);
    if (cp === -1) out += '\\ufffd';
    else if (cp === 0x2028 || cp === 0x2029) out += `\\u${cp.toString(16)}`;
    else out += String.fromCodePoint(cp);
    i += size;
  }
  return `${out}"`;
}

const cont = (s: string, i: number): number => {
  const c = i < s.length ? s.charCodeAt(i) : -1;
  return c >= 0x80 && c <= 0xbf ? c & 0x3f : -1;
};

/** One rune at `i` (first byte `b0` >= 0x80): [code point or -1, bytes used]. */
function decodeRune(s: string, i: number, b0: number): [number, number] {
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    const c1 = cont(s, i + 1);
    return c1 === -1 ? [-1, 1] : [((b0 & 0x1f) << 6) | c1, 2];
  }
  if (b0 >= 0xe0 && b0 <= 0xef) {
    const b1 = i + 1 < s.length ? s.charCodeAt(i + 1) : -1;
    // Overlongs (E0 80..9F) and surrogates (ED A0..BF) are invalid.
    const lo = b0 === 0xe0 ? 0xa0 : 0x80;
    const hi = b0 === 0xed ? 0x9f : 0xbf;
    if (b1 < lo || b1 > hi) return [-1, 1];
    const c2 = cont(s, i + 2);
    if (c2 === -1) return [-1, 1];
    return [((b0 & 0x0f) << 12) | ((b1 & 0x3f) << 6) | c2, 3];
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    const b1 = i + 1 < s.length ? s.charCodeAt(i + 1) : -1;
    const lo = b0 === 0xf0 ? 0x90 : 0x80;
    const hi = b0 === 0xf4 ? 0x8f : 0xbf;
    if (b1 < lo || b1 > hi) return [-1, 1];
    const c2 = cont(s, i + 2);
    const c3 = cont(s, i + 3);
    if (c2 === -1 || c3 === -1) return [-1, 1];
    return [((b0 & 0x07) << 18) | ((b1 & 0x3f) << 12) | (c2 << 6) | c3, 4];
  }
  return [-1, 1];
}
