/**
 * The Lua scripts reach a bundle: `src/index.ts` bundled by esbuild (everything but Node builtins), then a
 * schedule → claim → ack cycle through the bundled Scheduler against the real Redis.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Metafile } from 'esbuild';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LUA } from '../../src/core/scripts.generated.js';
import { newClient, randomNamespace, redisUrl } from '../support/context.js';

type Bundle = typeof import('../../src/index.js');

const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);

describe('bundled artifact', () => {
  let dir: string;
  let outfile: string;
  let metafile: Metafile;
  let bundle: Bundle;
  let redis: Redis;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tickset-bundle-'));
    outfile = join(dir, 'index.mjs');
    const result = await build({
      entryPoints: [join(import.meta.dirname, '..', '..', 'src', 'index.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      conditions: ['tickset-source'],
      outfile,
      metafile: true,
      logLevel: 'silent',
      // CommonJS dependencies (ioredis) call require() for builtins; ESM output needs a real require.
      banner: {
        js: "import { createRequire as __ticksetCreateRequire } from 'node:module'; const require = __ticksetCreateRequire(import.meta.url);",
      },
    });
    metafile = result.metafile;
    bundle = (await import(pathToFileURL(outfile).href)) as Bundle;
    redis = newClient();
  });

  afterAll(async () => {
    await redis?.quit();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('bundles every dependency; only Node builtins stay external', () => {
    const inputs = Object.keys(metafile.inputs);
    expect(inputs.some((p) => p.includes('node_modules/ioredis/'))).toBe(true);
    expect(inputs.some((p) => p.includes('node_modules/croner/'))).toBe(true);
    expect(inputs.some((p) => p.endsWith('src/core/scripts.generated.ts'))).toBe(true);
    const builtins = new Set(builtinModules);
    const externals = Object.values(metafile.outputs).flatMap((o) =>
      o.imports.filter((i) => i.external).map((i) => i.path),
    );
    const notBuiltin = externals.filter((p) => !p.startsWith('node:') && !builtins.has(p.split('/')[0]!));
    expect(notBuiltin).toEqual([]);
    // The script sources are in the artifact itself.
    const code = readFileSync(outfile, 'utf8');
    for (const name of ['claim', 'schedule', 'ack'] as const) expect(code).toContain(LUA[name].sha1);
  });

  it('runs schedule → promote → claim → ack through the bundled Scheduler, loading the Lua itself', async () => {
    // Empty the server's script cache: EVALSHA misses, so the bundle must send its own Lua source.
    await redis.script('FLUSH');
    let now = T0;
    const tasks = new bundle.Scheduler({
      redis: redisUrl(),
      namespace: randomNamespace('b'),
      now: () => now,
    });
    try {
      const { id } = await tasks.schedule({ handler: 'bundled', payload: { ok: true }, at: T0 + 1000 });
      expect((await tasks.get(id))?.state).toBe('scheduled');
      now = T0 + 1000;
      const e = tasks.engine;
      expect(await e.promote(0, ['bundled'], now, 100)).toBe(1);
      const { tasks: claimed } = await e.claim(0, [{ handler: 'bundled', limit: 10, leaseMs: 5000 }], now);
      expect(claimed).toHaveLength(1);
      expect(claimed[0]).toMatchObject({ id, payload: { ok: true }, attempt: 1 });
      expect(await e.ack(claimed[0]!)).toBe('acked');
      expect(await tasks.get(id)).toBeUndefined();
      // Bundled errors are the bundle's own typed classes.
      await expect(tasks.schedule({ handler: 'bundled' } as never)).rejects.toBeInstanceOf(
        bundle.ValidationError,
      );
    } finally {
      await tasks.close();
    }
    expect(await redis.script('EXISTS', LUA.claim.sha1)).toEqual([1]);
  });
});
