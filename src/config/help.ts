// What the variable table says to people: the --help text, the --print-config view, docs/configuration.md.
import type { WatchdogConfig } from './load-config.js';
import { MODE_TABLE, MODES, VARIABLES, defaultText, type Variable } from './variables.js';

const FLAGS = [
  ['--version', 'print the version and exit'],
  ['--run-healthcheck', 'exit 0 if the lock file $TMPDIR/.lock exists, else 1 (for HEALTHCHECK)'],
  ['--print-config', 'print the effective configuration as JSON (secrets are never shown) and exit'],
] as const;

const VALUES_NOTE = [
  'Configuration is read from environment variables. Durations are whole seconds (30) or Go',
  'durations (1m30s, 1.5s, 500ms). Booleans: true/false, 1/0, yes/no, on/off. Any value that does',
  'not parse stops the watchdog at start-up (exit code 2) with every problem listed.',
];

function spelled(v: Variable): string {
  return v.name + (v.aliases ? ` (${v.aliases.join(', ')})` : '');
}

export function helpText(): string {
  const lines = [
    `fwatchdog: the OpenFaaS function watchdog (${MODES.join(', ')} modes)`,
    '',
    'Usage: fwatchdog [--help] [--version] [--run-healthcheck] [--print-config]',
    '',
    ...FLAGS.map(([flag, what]) => `  ${flag.padEnd(17)}  ${what}`),
    '',
    ...VALUES_NOTE,
    '',
  ];
  const width = Math.max(...VARIABLES.map((v) => spelled(v).length));
  for (const v of VARIABLES) {
    const modes = v.modes ? ` [${v.modes.join(', ')}]` : '';
    lines.push(`  ${spelled(v).padEnd(width)}  ${v.help}${modes}`);
    lines.push(`  ${''.padEnd(width)}  default: ${defaultText(v)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The effective configuration, in the environment's own names and units (secret names, never values). */
export function printableConfig(config: WatchdogConfig, programPath: string | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const v of VARIABLES) {
    if (v.key === undefined) continue;
    out[v.name] = v.parse.print(config[v.key] as never);
    if (v.key === 'fprocess') {
      out.argv = config.argv;
      out.program_path = programPath;
    }
    if (v.key === 'tmpDir') out.lock_file = config.lockFilePath;
  }
  return out;
}

function cell(s: string): string {
  return s.replaceAll('|', '\\|').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** docs/configuration.md, generated from the table (`npm run docs:config`; a test keeps the committed file equal). */
export function configurationMarkdown(): string {
  const lines = [
    '# Configuration',
    '',
    '<!-- Generated from src/config/variables.ts by `npm run docs:config`; do not edit by hand. -->',
    '',
    'fwatchdog reads its configuration from environment variables, with the names of the OpenFaaS watchdogs.',
    'An empty value counts as unset. Where a variable has aliases, an alias that is set wins over the main name',
    '(as in the originals); for booleans, any spelling set to true turns the option on.',
    '',
    ...VALUES_NOTE,
    '`fwatchdog --help` prints this list; `fwatchdog --print-config` prints the effective values as JSON.',
    '',
    '## Modes',
    '',
    '| mode | forks a process per request | what it does |',
    '|---|---|---|',
    ...MODES.map((m) => `| \`${m}\` | ${MODE_TABLE[m].forks ? 'yes' : 'no'} | ${cell(MODE_TABLE[m].summary)} |`),
    '',
    '## Variables',
    '',
    '| variable | aliases | default | allowed values | modes | meaning |',
    '|---|---|---|---|---|---|',
    ...VARIABLES.map(
      (v) =>
        `| \`${v.name}\` | ${(v.aliases ?? []).map((a) => `\`${a}\``).join(', ')} | ${cell(defaultText(v))} | ${cell(v.parse.allowed)} | ${v.modes ? v.modes.join(', ') : 'all'} | ${cell(v.help)} |`,
    ),
    '',
    '## Command-line flags',
    '',
    '| flag | what it does |',
    '|---|---|',
    '| `--help` | print the variables with their defaults and exit |',
    ...FLAGS.map(([flag, what]) => `| \`${flag}\` | ${cell(what)} |`),
    '',
    'Each flag may also be written with one dash (`-help`), as with the originals.',
    '',
  ];
  return lines.join('\n');
}
