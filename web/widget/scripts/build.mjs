// Builds dist/widget.js (one minified IIFE) and prints its size.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, 'dist', 'widget.js');

await build({
  entryPoints: [join(root, 'src', 'main.ts')],
  outfile,
  bundle: true,
  format: 'iife',
  minify: true,
  target: ['es2020'],
  legalComments: 'none',
  charset: 'utf8',
  logLevel: 'warning',
});

const buf = readFileSync(outfile);
const gz = gzipSync(buf, { level: 9 }).length;
console.log(`widget.js: ${buf.length} bytes, gzip ${gz} bytes`);
if (gz > 40 * 1024) {
  console.error('widget.js is over the 40 KB gzip budget');
  process.exit(1);
}
