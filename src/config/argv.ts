// Splits `fprocess` into argv the way a POSIX shell splits words, without running a shell.

export type SplitResult = { ok: true; argv: string[] } | { ok: false; reason: string };

/**
 * Word splitting with single quotes, double quotes and backslash escapes.
 * Whitespace (space, tab, newline) separates words; repeated separators never make empty words.
 * No expansion of any kind ($VAR, globs, ~) is done.
 */
export function splitCommandLine(input: string): SplitResult {
  const argv: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  const n = input.length;
  while (i < n) {
    const c = input[i] as string;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      if (inWord) {
        argv.push(word);
        word = '';
        inWord = false;
      }
      i++;
      continue;
    }
    inWord = true;
    if (c === "'") {
      const end = input.indexOf("'", i + 1);
      if (end === -1) return { ok: false, reason: 'unterminated single quote' };
      word += input.slice(i + 1, end);
      i = end + 1;
      continue;
    }
    if (c === '"') {
      i++;
      let closed = false;
      while (i < n) {
        const d = input[i] as string;
        if (d === '"') {
          closed = true;
          i++;
          break;
        }
        if (d === '\\' && i + 1 < n) {
          const e = input[i + 1] as string;
          // Inside double quotes a backslash only escapes these characters (POSIX).
          if (e === '"' || e === '\\' || e === '$' || e === '`') {
            word += e;
            i += 2;
            continue;
          }
          if (e === '\n') {
            i += 2;
            continue;
          }
        }
        word += d;
        i++;
      }
      if (!closed) return { ok: false, reason: 'unterminated double quote' };
      continue;
    }
    if (c === '\\') {
      if (i + 1 >= n) return { ok: false, reason: 'trailing backslash' };
      const e = input[i + 1] as string;
      if (e !== '\n') word += e;
      i += 2;
      continue;
    }
    word += c;
    i++;
  }
  if (inWord) argv.push(word);
  return { ok: true, argv };
}
