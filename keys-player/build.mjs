// Builds dist/keys-player.min.js (everything) and dist/session.min.js (the core: the key
// session alone), and prints their minified + gzip sizes as one JSON line; exits 1 when
// the core is over its budget. Tests assert the same bound on this figure.
import { build } from 'esbuild';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CORE_BUDGET = 5120; // bytes, minified + gzip

const here = dirname(fileURLToPath(import.meta.url));
const sizes = {};
for (const [name, entry] of [['session', 'src/session.js'], ['keys-player', 'src/index.js']]) {
  const out = join(here, 'dist', `${name}.min.js`);
  mkdirSync(dirname(out), { recursive: true });
  await build({
    entryPoints: [join(here, entry)], outfile: out, bundle: true, minify: true,
    format: 'esm', target: 'es2020', logLevel: 'error',
  });
  const code = readFileSync(out);
  sizes[name] = { minified: code.length, gzip: gzipSync(code, { level: 9 }).length };
}
const report = { core: sizes.session.gzip, all: sizes['keys-player'].gzip, budget: CORE_BUDGET, sizes };
writeFileSync(join(here, 'dist', 'size.json'), JSON.stringify(report, null, 2) + '\n');
console.log(JSON.stringify(report));
if (report.core > CORE_BUDGET) {
  console.error(`keys-player: core is ${report.core} bytes min+gzip, over the ${CORE_BUDGET}-byte budget`);
  process.exit(1);
}
