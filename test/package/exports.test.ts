/**
 * The subpath exports work from TypeScript sources (the `tickset-source` condition, as tsx and vitest use).
 * From a build, as an installed package is used, test/package/consumer-app.test.ts imports them from the
 * packed tarball.
 */
import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

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
