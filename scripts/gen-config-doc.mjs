// Writes docs/configuration.md from the variable table (src/config/variables.ts); test/unit/config-docs.test.ts checks it.
import { build } from 'esbuild';
import { writeFileSync } from 'node:fs';

const out = await build({
  entryPoints: ['src/config/help.ts'],
  bundle: true,
  platform: 'node',
  format: 'esm',
  write: false,
  logLevel: 'warning',
});
const { configurationMarkdown } = await import(
  `data:text/javascript;base64,${Buffer.from(out.outputFiles[0].text).toString('base64')}`
);
writeFileSync(new URL('../docs/configuration.md', import.meta.url), configurationMarkdown());
process.stdout.write('docs/configuration.md written from src/config/variables.ts\n');
