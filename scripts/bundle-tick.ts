/**
 * Builds the tick Lambda ahead of time into `dist/functions/tick/index.mjs` (+ source map), with the same
 * esbuild options `TicksetFunction` uses at synth. An installed package deploys this bundle as it is
 * (infra/tick.ts), so a consumer's `cdk synth` never bundles the tick.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { TICKSET_FUNCTION_DEFAULTS } from '../infra/function.js';

const root = join(import.meta.dirname, '..');
const outdir = join(root, 'dist', 'functions', 'tick');
const b = TICKSET_FUNCTION_DEFAULTS.bundling;

rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [join(root, 'functions', 'tick', 'index.ts')],
  outfile: join(outdir, 'index.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: b.target,
  mainFields: [...b.mainFields],
  conditions: ['tickset-source', 'module'],
  minify: b.minify,
  sourcemap: b.sourceMap,
  banner: { js: b.banner },
  logLevel: 'warning',
});
console.log(`tick bundle: ${join('dist', 'functions', 'tick', 'index.mjs')}`);
