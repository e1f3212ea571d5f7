/**
 * `npx tsx bench/bundle-size.ts [--cold-start] [--json]`: bundles the tick entry and a handler entry with
 * the options `infra/function.ts` gives every Lambda (TICKSET_FUNCTION_DEFAULTS.bundling: ESM, node22,
 * minify, conditions `tickset-source,module`, mainFields module,main, the createRequire banner) and
 * prints each bundle's size with a per-package map from esbuild's metafile (bytes of each input in the
 * minified output). `--cold-start` also measures the tick module's cold start: a fresh `node` process
 * imports the built bundle and runs one `minute`-mode invocation against a private redis-server (the
 * first connection, the leader lease, one empty pass), several runs, median. `--base <dir>` (a checkout
 * of another commit, with `node_modules`) also bundles that tree and alternates its cold-start runs with
 * this tree's, so both see the same machine load.
 *
 * Not part of `npm run bench` (it runs in seconds and needs no quiet machine for the sizes).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, type Metafile } from 'esbuild';
import { startRedisServer } from '../test/support/redis-server.js';

const ROOT = join(import.meta.dirname, '..');

/** The same string as `ESM_REQUIRE_BANNER` in infra/function.ts (not imported: infra pulls in aws-cdk-lib). */
const BANNER =
  "import { createRequire as __ticksetCreateRequire } from 'node:module'; const require = __ticksetCreateRequire(import.meta.url);";

export const ENTRIES = {
  tick: 'functions/tick/index.ts',
  handler: 'functions/examples/send-reminder.ts',
} as const;

export type BundleName = keyof typeof ENTRIES;

export interface BundleSize {
  readonly name: BundleName;
  readonly entry: string;
  readonly bytes: number;
  /** Bytes in the output per group (package or part of tickset), largest first. */
  readonly groups: Record<string, number>;
  readonly outfile: string;
}

/** The group of one metafile input path. */
export function groupOf(input: string): string {
  if (input.endsWith('scripts.generated.ts')) return 'tickset: generated Lua';
  const nm = input.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = input.slice(nm + 'node_modules/'.length).split('/');
    const pkg = rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
    if (pkg.startsWith('@aws-sdk/')) return '@aws-sdk/*';
    if (pkg.startsWith('@smithy/')) return '@smithy/*';
    if (pkg.startsWith('@aws-lambda-powertools/')) return '@aws-lambda-powertools/*';
    if (pkg.startsWith('@aws-crypto/')) return '@aws-crypto/*';
    return pkg;
  }
  if (input.startsWith('src/') || input.startsWith('functions/')) return 'tickset: src';
  return 'other';
}

export async function bundle(name: BundleName, outdir: string, root = ROOT): Promise<BundleSize> {
  const outfile = join(outdir, `${name}.mjs`);
  const result = await build({
    entryPoints: [join(root, ENTRIES[name])],
    absWorkingDir: root,
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    minify: true,
    mainFields: ['module', 'main'],
    conditions: ['tickset-source', 'module'],
    banner: { js: BANNER },
    metafile: true,
    logLevel: 'silent',
  });
  const meta: Metafile = result.metafile;
  const output = Object.values(meta.outputs).find((o) => o.entryPoint !== undefined);
  if (!output) throw new Error(`no output for ${name}`);
  const groups: Record<string, number> = {};
  for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
    const group = groupOf(input);
    groups[group] = (groups[group] ?? 0) + bytesInOutput;
  }
  const sorted = Object.fromEntries(Object.entries(groups).sort((a, b) => b[1] - a[1]));
  return { name, entry: ENTRIES[name], bytes: output.bytes, groups: sorted, outfile };
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KB`;

/**
 * Milliseconds from process start to the end of the first tick invocation, per fresh process, for each
 * bundle; the bundles' runs alternate.
 */
export async function coldStart(bundles: readonly string[], runs: number): Promise<number[][]> {
  const redis = await startRedisServer();
  const child = join(tmpdir(), `tickset-cold-${process.pid}.mjs`);
  writeFileSync(
    child,
    `const { handler } = await import(process.argv[2]);
const imported = performance.now();
const context = { logStreamName: 'cold', awsRequestId: 'r', getRemainingTimeInMillis: () => 60000 };
await handler({}, context);
process.stderr.write(JSON.stringify({ imported, done: performance.now() }) + '\\n');
process.exit(0);
`,
  );
  const samples: number[][] = bundles.map(() => []);
  try {
    for (let i = 0; i < runs; i++) {
      for (let b = 0; b < bundles.length; b++) {
        const run = spawnSync(process.execPath, [child, bundles[b]!], {
          env: {
            PATH: process.env.PATH,
            TICKSET_REDIS_URL: redis.url,
            TICKSET_NAMESPACE: `cold${b}x${i}`,
            TICKSET_EVENT_BUS_NAME: 'bench',
            TICKSET_PRECISION: 'minute',
            AWS_REGION: 'us-east-1',
            AWS_ACCESS_KEY_ID: 'bench',
            AWS_SECRET_ACCESS_KEY: 'bench',
            POWERTOOLS_METRICS_DISABLED: 'true',
          },
          encoding: 'utf8',
        });
        const line = run.stderr.trim().split('\n').at(-1) ?? '';
        if (run.status !== 0 || !line.startsWith('{'))
          throw new Error(`cold-start run failed: ${run.stderr}`);
        const { imported, done } = JSON.parse(line) as { imported: number; done: number };
        samples[b]!.push(done);
        process.stderr.write(
          `  ${bundles[b]} run ${i + 1}: import ${imported.toFixed(1)} ms, first invocation done ${done.toFixed(1)} ms\n`,
        );
      }
    }
  } finally {
    rmSync(child, { force: true });
    await redis.stop();
  }
  return samples;
}

/**
 * The bench's figure (`npm run bench`, figure `coldstart`): the tick and handler bundles' sizes, and the
 * tick's cold start in `runs` fresh processes (ms).
 */
export async function tickColdStart(
  runs: number,
): Promise<{ readonly bytes: Record<BundleName, number>; readonly samples: number[] }> {
  const outdir = mkdtempSync(join(tmpdir(), 'tickset-bundle-'));
  try {
    const tick = await bundle('tick', outdir);
    const handler = await bundle('handler', outdir);
    const [samples] = await coldStart([tick.outfile], runs);
    return { bytes: { tick: tick.bytes, handler: handler.bytes }, samples: samples! };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main(): Promise<void> {
  const outdir = mkdtempSync(join(tmpdir(), 'tickset-bundle-'));
  try {
    const sizes: BundleSize[] = [];
    for (const name of Object.keys(ENTRIES) as BundleName[]) sizes.push(await bundle(name, outdir));
    const report: Record<string, unknown> = {};
    for (const s of sizes) {
      console.log(`${s.name} (${s.entry}): ${kb(s.bytes)} (${s.bytes} bytes)`);
      for (const [group, bytes] of Object.entries(s.groups))
        console.log(`  ${group.padEnd(28)} ${kb(bytes).padStart(8)}`);
      report[s.name] = { bytes: s.bytes, groups: s.groups };
    }
    if (process.argv.includes('--cold-start')) {
      const tick = sizes.find((s) => s.name === 'tick')!;
      const bundles = [tick.outfile];
      const baseAt = process.argv.indexOf('--base');
      if (baseAt > 0) {
        const baseDir = mkdtempSync(join(tmpdir(), 'tickset-bundle-base-'));
        const base = await bundle('tick', baseDir, process.argv[baseAt + 1]);
        console.log(`base tick: ${kb(base.bytes)} (${base.bytes} bytes)`);
        bundles.push(base.outfile);
      }
      const runs = 9;
      const samples = await coldStart(bundles, runs);
      const labels = ['tick', 'base tick'];
      samples.forEach((xs, b) => {
        console.log(
          `${labels[b]} cold start (import + first minute-mode invocation, fresh process, ${runs} runs): median ${median(xs).toFixed(1)} ms, min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)}`,
        );
      });
      report.coldStartMs = samples.map((xs) => ({ median: median(xs), samples: xs }));
    }
    if (process.argv.includes('--json')) console.log(JSON.stringify(report));
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
