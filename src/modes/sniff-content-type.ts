// The Content-Type Go's net/http sniffs for a body written without one (http.DetectContentType, a subset).

const HTML_TAGS = [
  '<!DOCTYPE HTML',
  '<HTML',
  '<HEAD',
  '<SCRIPT',
  '<IFRAME',
  '<H1',
  '<DIV',
  '<FONT',
  '<TABLE',
  '<A',
  '<STYLE',
  '<TITLE',
  '<B',
  '<BODY',
  '<BR',
  '<P',
  '<!--',
];

const MAGIC: Array<[number[], string]> = [
  [[0x25, 0x50, 0x44, 0x46, 0x2d], 'application/pdf'],
  [[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'image/png'],
  [[0xff, 0xd8, 0xff], 'image/jpeg'],
  [[0x47, 0x49, 0x46, 0x38, 0x37, 0x61], 'image/gif'],
  [[0x47, 0x49, 0x46, 0x38, 0x39, 0x61], 'image/gif'],
  [[0x1f, 0x8b, 0x08], 'application/x-gzip'],
  [[0x50, 0x4b, 0x03, 0x04], 'application/zip'],
  [[0x42, 0x4d], 'image/bmp'],
];

function isWhitespace(b: number): boolean {
  return b === 0x09 || b === 0x0a || b === 0x0c || b === 0x0d || b === 0x20;
}

/** Binary bytes in the WHATWG sense: control characters other than TAB, LF, FF, CR and ESC. */
function isBinaryByte(b: number): boolean {
  return b <= 0x08 || b === 0x0b || (b >= 0x0e && b <= 0x1a) || (b >= 0x1c && b <= 0x1f);
}

/** Sniffs at most the first 512 bytes; an empty body has no type (undefined). */
export function sniffContentType(body: Buffer): string | undefined {
  if (body.length === 0) return undefined;
  const data = body.subarray(0, 512);
  let start = 0;
  while (start < data.length && isWhitespace(data[start] as number)) start++;
  const head = data
    .subarray(start, start + 16)
    .toString('latin1')
    .toUpperCase();
  for (const tag of HTML_TAGS) {
    if (!head.startsWith(tag)) continue;
    const next = data[start + tag.length];
    // The tag must end: a space or '>' follows (Go's htmlSig), or the data ends.
    if (next === undefined || next === 0x20 || next === 0x3e) return 'text/html; charset=utf-8';
  }
  if (head.startsWith('<?XML')) return 'text/xml; charset=utf-8';
  for (const [magic, type] of MAGIC) {
    if (magic.length <= data.length && magic.every((b, i) => data[i] === b)) return type;
  }
  if (data[0] === 0xfe && data[1] === 0xff) return 'text/plain; charset=utf-16be';
  if (data[0] === 0xff && data[1] === 0xfe) return 'text/plain; charset=utf-16le';
  if (data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf) return 'text/plain; charset=utf-8';
  for (const b of data) if (isBinaryByte(b)) return 'application/octet-stream';
  return 'text/plain; charset=utf-8';
}
