/**
 * CLI rough edges: a payload too large for an argument list comes from a file (`--payload @file.json`) or
 * standard input (`--payload -`); validation bounds are said in the CLI's terms; a bad or empty Redis URL
 * names the flag or the variable it came from.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oneLineError, runInProcess, seeded } from './run.js';

describe('tickset schedule --payload, messages and URLs', () => {
  let ns: ReturnType<typeof seeded>;
  let dir: string;
  beforeAll(() => {
    ns = seeded('payload');
    dir = mkdtempSync(join(tmpdir(), 'tickset-payload-'));
  });
  afterAll(async () => {
    await ns.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // A payload near the 200 KB limit: larger than one argument may be on Linux (128 KiB).
  const big = { blob: 'x'.repeat(190_000) };

  it('reads --payload @file.json', async () => {
    const file = join(dir, 'payload.json');
    writeFileSync(file, JSON.stringify(big));
    const result = await ns.run([
      'schedule',
      '--handler',
      'h',
      '--in',
      '1h',
      '--payload',
      `@${file}`,
      '--json',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const { id } = JSON.parse(result.stdout) as { id: string };
    expect((await ns.scheduler.get(id))?.payload).toEqual(big);
  });

  it('reads --payload - from standard input', async () => {
    const result = await ns.cli(['schedule', '--handler', 'h', '--in', '1h', '--payload', '-', '--json'], {
      input: JSON.stringify(big),
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const { id } = JSON.parse(result.stdout) as { id: string };
    expect((await ns.scheduler.get(id))?.payload).toEqual(big);
  });

  it('names a payload file it cannot read', async () => {
    const result = await ns.run([
      'schedule',
      '--handler',
      'h',
      '--in',
      '1h',
      '--payload',
      `@${join(dir, 'nope')}`,
    ]);
    expect(result.code).toBe(1);
    expect(oneLineError(result)).toMatch(/^tickset: cannot read --payload file ".*nope": ENOENT/);
  });

  it('says a too short --every in its own terms', async () => {
    const result = await ns.run(['schedule', '--handler', 'h', '--every', '10ms']);
    expect(result.code).toBe(1);
    expect(oneLineError(result)).toBe(
      'tickset: invalid --every "10ms": expected a duration of at least 100ms',
    );
  });

  it('names the variable a bad URL came from', async () => {
    for (const variable of ['REDIS_URL', 'TICKSET_REDIS_URL']) {
      const result = await runInProcess(['status'], { [variable]: 'garbage' });
      expect(result.code).toBe(1);
      expect(oneLineError(result)).toMatch(
        new RegExp(`^tickset: invalid ${variable} "garbage": expected a redis://`),
      );
    }
  });

  it('rejects an empty --redis instead of falling back to the default', async () => {
    const result = await runInProcess(['--redis', '', 'status']);
    expect(result.code).toBe(1);
    expect(oneLineError(result)).toMatch(/^tickset: invalid --redis: it is empty/);
  });
});
