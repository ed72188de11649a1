import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Every relative link in README.md and docs/*.md must lead to a file that exists and, when it names
// a heading (`file.md#anchor` or `#anchor`), to a heading that exists there.

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const pages = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** The markdown text without fenced code blocks and inline code spans, which hold no links. */
function prose(markdown: string): string {
  const out: string[] = [];
  let fence: string | undefined;
  for (const line of markdown.split('\n')) {
    const m = /^\s*(```+|~~~+)/.exec(line);
    if (m) {
      if (fence === undefined) fence = m[1]![0]!;
      else if (m[1]![0] === fence) fence = undefined;
      out.push('');
      continue;
    }
    out.push(fence === undefined ? line.replace(/(`+)[^`]*?\1/g, '') : '');
  }
  return out.join('\n');
}

/** Inline link targets: [text](target) and ![alt](target). */
export function linkTargets(markdown: string): string[] {
  const targets: string[] = [];
  for (const m of prose(markdown).matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) targets.push(m[1]!);
  return targets;
}

/** GitHub's anchors for a markdown file's headings (lower case, punctuation dropped, spaces to '-'). */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fence = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fence = !fence;
    if (fence) continue;
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = m[1]!
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

function problems(page: string): string[] {
  const found: string[] = [];
  const text = readFileSync(join(root, page), 'utf8');
  for (const target of linkTargets(text)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
    const [rawPath, anchor] = target.split('#', 2) as [string, string | undefined];
    const path = decodeURIComponent(rawPath);
    const file = path === '' ? join(root, page) : resolve(dirname(join(root, page)), path);
    if (!existsSync(file)) {
      found.push(`${page}: ${target} -> ${relative(root, file)} does not exist`);
      continue;
    }
    if (anchor !== undefined && anchor !== '' && statSync(file).isFile() && file.endsWith('.md')) {
      if (!headingAnchors(readFileSync(file, 'utf8')).has(anchor)) {
        found.push(`${page}: ${target} -> no heading #${anchor} in ${relative(root, file)}`);
      }
    }
  }
  return found;
}

describe('documentation links', () => {
  it('finds the pages and their links', () => {
    expect(pages).toContain('README.md');
    expect(pages.length).toBeGreaterThan(5);
    expect(linkTargets(readFileSync(join(root, 'README.md'), 'utf8')).length).toBeGreaterThan(10);
  });

  it('reads links and anchors the way GitHub does', () => {
    expect(linkTargets('a [x](docs/a.md#b) `[no](c.md)` ![i](p.png "t")\n```\n[no](d.md)\n```\n')).toEqual([
      'docs/a.md#b',
      'p.png',
    ]);
    expect([
      ...headingAnchors('# The `mode=inproc` mode\n## Output bounds (`max_output_bytes`)\n## A\n## A\n'),
    ]).toEqual(['the-modeinproc-mode', 'output-bounds-max_output_bytes', 'a', 'a-1']);
  });

  it.each(pages)('%s: every relative link leads to an existing file and heading', (page) => {
    expect(problems(page)).toEqual([]);
  });
});

describe('CI runs the README test commands', () => {
  it('.ci/run runs exactly the quick start test commands, in order', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const quick = readme.slice(readme.indexOf('## Quick start'));
    const block = /```sh\n([\s\S]*?)```/.exec(quick)![1]!;
    const fromReadme = block
      .split('\n')
      .map((l) => l.replace(/#.*/, '').trim())
      .filter((l) => /^npm (test|run test:\S+)$/.test(l));
    const ci = readFileSync(join(root, '.ci/run'), 'utf8')
      .split('\n')
      .map((l) => l.replace(/<\s*\/dev\/null/, '').trim())
      .filter((l) => /^npm (test|run test:\S+)$/.test(l));
    expect(fromReadme).toEqual(['npm test', 'npm run test:containers']);
    expect(ci).toEqual(fromReadme);
  });
});

/** The first column of the first table after `heading` (the rows' areas). */
function tableAreas(markdown: string, heading: string): string[] {
  const rest = markdown.slice(markdown.indexOf(heading));
  const lines = rest.split('\n');
  const start = lines.findIndex((l) => l.startsWith('|'));
  const areas: string[] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    areas.push(line.split('|')[1]!.trim());
  }
  return areas;
}

describe('the deviations table', () => {
  it('README.md carries a line for every row of docs/differences.md, in the same order, and stays a front page', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const detailed = tableAreas(
      readFileSync(join(root, 'docs/differences.md'), 'utf8'),
      '# Differences from the Go originals',
    );
    expect(detailed.length).toBeGreaterThan(30);
    expect(tableAreas(readme, '## Differences from the originals')).toEqual(detailed);
    expect(readme.split('\n').length).toBeLessThanOrEqual(300);
  });
});
