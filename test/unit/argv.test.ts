import { describe, expect, it } from 'vitest';
import { splitCommandLine } from '../../src/config/argv.js';

describe('splitCommandLine', () => {
  it.each([
    ['node', ['node']],
    ['node index.js --this-is-a-flag=1234', ['node', 'index.js', '--this-is-a-flag=1234']],
    ['  python3   index.py  ', ['python3', 'index.py']],
    ['a\tb\nc', ['a', 'b', 'c']],
    [`sh -c "echo hi"`, ['sh', '-c', 'echo hi']],
    [`sh -c 'echo "hi there"'`, ['sh', '-c', 'echo "hi there"']],
    [`echo "a \\"quoted\\" word"`, ['echo', 'a "quoted" word']],
    [`echo "keep \\n as is"`, ['echo', 'keep \\n as is']],
    [`echo 'no \\ escapes'`, ['echo', 'no \\ escapes']],
    ['echo a\\ b', ['echo', 'a b']],
    ['echo \\"x', ['echo', '"x']],
    [`echo ""`, ['echo', '']],
    [`echo a""b`, ['echo', 'ab']],
    ['echo $HOME *', ['echo', '$HOME', '*']],
    ['', []],
  ])('splits %j like a shell would', (input, argv) => {
    expect(splitCommandLine(input)).toEqual({ ok: true, argv });
  });

  it.each([
    [`sh -c "echo hi`, 'unterminated double quote'],
    [`sh -c 'echo hi`, 'unterminated single quote'],
    ['echo \\', 'trailing backslash'],
  ])('reports %j as a problem: %s', (input, reason) => {
    expect(splitCommandLine(input)).toEqual({ ok: false, reason });
  });
});
