/**
 * The subpath exports work from TypeScript sources (the `tickset-source` condition, as tsx and vitest use)
 * and from a build (`tsc -p tsconfig.build.json`, as a published package is used).
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
const probe = `
const [main, handler, local, tick] = await Promise.all([
  import('tickset'), import('tickset/handler'), import('tickset/local'), import('tickset/tick'),
]);
console.log(JSON.stringify({
  Scheduler: typeof main.Scheduler, fromEnv: typeof main.Scheduler?.fromEnv, TicksetError: typeof main.TicksetError,
  taskHandler: typeof handler.taskHandler, startLocal: typeof local.startLocal, TickLoop: typeof tick.TickLoop,
}));`;
const expected = {
  Scheduler: 'function',
  fromEnv: 'function',
  TicksetError: 'function',
  taskHandler: 'function',
  startLocal: 'function',
  TickLoop: 'function',
};

describe('package exports', () => {
  let pkgDir: string;
  beforeAll(async () => {
    // GIVEN a copy of the package (package.json + a build) installed as node_modules/tickset of a consumer
    pkgDir = mkdtempSync(join(tmpdir(), 'tickset-pkg-'));
    const consumer = join(pkgDir, 'consumer');
    const installed = join(consumer, 'node_modules', 'tickset');
    await run('npx', ['tsc', '-p', join(root, 'tsconfig.build.json'), '--outDir', join(pkgDir, 'dist')], {
      cwd: root,
    });
    cpSync(join(pkgDir, 'dist'), join(installed, 'dist'), { recursive: true });
    cpSync(join(root, 'package.json'), join(installed, 'package.json'));
    symlinkSync(join(root, 'node_modules'), join(installed, 'node_modules'));
    writeFileSync(
      join(consumer, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
    );
    writeFileSync(join(consumer, 'probe.mjs'), probe);
  }, 180_000);
  afterAll(() => rmSync(pkgDir, { recursive: true, force: true }));

  it('resolves ., ./handler, ./local and ./tick from the build', async () => {
    const { stdout } = await run('node', ['probe.mjs'], { cwd: join(pkgDir, 'consumer') });
    expect(JSON.parse(stdout)).toEqual(expected);
  });

  it('resolves ., ./handler, ./local and ./tick from TypeScript sources through tsx', async () => {
    const file = join(root, '.tmp', `probe-${process.pid}.mts`);
    writeFileSync(file, probe);
    try {
      const { stdout } = await run('npx', ['tsx', '--conditions=tickset-source', file], { cwd: root });
      expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toEqual(expected);
    } finally {
      rmSync(file, { force: true });
    }
  });
});
