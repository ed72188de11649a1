// The originals' label values for the request instruments (client_golang's rules).
const KNOWN_METHODS = new Set([
  'get',
  'put',
  'head',
  'post',
  'delete',
  'connect',
  'options',
  'notify',
  'trace',
  'patch',
]);

/** client_golang's label rules: lower-case known methods, anything else `unknown`. */
export function methodLabel(method: string | undefined): string {
  if (method === undefined) return 'unknown';
  const lower = method.toLowerCase();
  return KNOWN_METHODS.has(lower) ? lower : 'unknown';
}

export function codeLabel(status: number): string {
  return status >= 100 && status <= 599 ? String(status) : 'unknown';
}
