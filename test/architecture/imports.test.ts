/**
 * The import rules of ARCHITECTURE.md ("Code map"), read from the source files (static `import … from`,
 * `export … from` and dynamic `import()` specifiers):
 *
 * - the runtimes (`src/tick`, `src/handler`, `src/local`) and the composition root (`src/runtime`) import
 *   nothing from `src/client` (the producer API builds on the root, never the other way round);
 * - nothing in `src/` imports `infra/`;
 * - one store gateway: only `src/core/engine.ts` and `src/core/store/*` run scripts (import
 *   `src/core/script.ts` or `src/core/scripts.generated.ts`), so every script call has one place to look;
 * - the tick's Lambda entry reaches no zod, through any chain of imports (zod is the producer's and the
 *   handler's event validation; the tick bundle stays without it).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) out.push(...filesUnder(path));
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

/** Import specifiers of one file, type-only imports included (they still couple the modules). */
function specifiersOf(source: string): { spec: string; typeOnly: boolean }[] {
  const found: { spec: string; typeOnly: boolean }[] = [];
  const statement = /^\s*(import|export)\s+(type\s+)?[^'";]*?from\s+['"]([^'"]+)['"]/gms;
  for (const m of source.matchAll(statement)) found.push({ spec: m[3]!, typeOnly: m[2] !== undefined });
  for (const m of source.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm))
    found.push({ spec: m[1]!, typeOnly: false });
  for (const m of source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g))
    found.push({ spec: m[1]!, typeOnly: false });
  return found;
}

/** A relative specifier as a repository path (`.js` → `.ts`), or the bare package name. */
function target(from: string, spec: string): string {
  if (!spec.startsWith('.')) return spec;
  return relative(ROOT, resolve(ROOT, dirname(from), spec)).replace(/\.js$/, '.ts');
}

const SRC = filesUnder('src');
const imports = new Map(
  SRC.map((file) => [
    file,
    specifiersOf(readFileSync(join(ROOT, file), 'utf8')).map((s) => ({ ...s, to: target(file, s.spec) })),
  ]),
);

describe('import rules', () => {
  it('finds the imports it checks (the parser is not blind)', () => {
    const lambda = imports.get('src/tick/lambda.ts')!.map((i) => i.to);
    expect(lambda).toContain('src/tick/loop.ts');
    expect(lambda).toContain('src/runtime/from-env.ts');
    expect(specifiersOf("import type { A } from './a.js';\nconst m = await import('../b.js');")).toEqual([
      { spec: './a.js', typeOnly: true },
      { spec: '../b.js', typeOnly: false },
    ]);
  });

  it('src/tick, src/handler, src/local and src/runtime import nothing from src/client', () => {
    const offending = [...imports]
      .filter(([file]) => /^src\/(tick|handler|local|runtime)\//.test(file))
      .flatMap(([file, list]) =>
        list.filter((i) => i.to.startsWith('src/client/')).map((i) => `${file} → ${i.to}`),
      );
    expect(offending).toEqual([]);
  });

  it('nothing in src/ imports infra/', () => {
    const offending = [...imports].flatMap(([file, list]) =>
      list
        .filter((i) => i.to.startsWith('infra/') || i.spec.includes('/infra'))
        .map((i) => `${file} → ${i.spec}`),
    );
    expect(offending).toEqual([]);
  });

  it('only src/core/engine.ts and src/core/store/* run Lua scripts', () => {
    const gateway = (file: string) => file === 'src/core/engine.ts' || file.startsWith('src/core/store/');
    const offending = [...imports]
      .filter(([file]) => !gateway(file))
      .flatMap(([file, list]) =>
        list
          .filter(
            (i) => !i.typeOnly && (i.to === 'src/core/script.ts' || i.to === 'src/core/scripts.generated.ts'),
          )
          .map((i) => `${file} → ${i.to}`),
      );
    expect(offending).toEqual([]);
    expect(imports.get('src/core/store/leader.ts')!.map((i) => i.to)).toContain('src/core/script.ts');
  });

  it('the tick entry reaches no zod (type-only imports are erased and not followed)', () => {
    const seen = new Set<string>();
    const paths: string[] = [];
    const walk = (file: string, chain: string[]) => {
      if (seen.has(file)) return;
      seen.add(file);
      const source = readFileSync(join(ROOT, file), 'utf8');
      for (const i of specifiersOf(source)) {
        if (i.typeOnly) continue;
        const to = target(file, i.spec);
        if (to === 'zod') paths.push([...chain, file].join(' → '));
        else if (to.startsWith('src/') || to.startsWith('functions/')) walk(to, [...chain, file]);
      }
    };
    walk('functions/tick/index.ts', []);
    expect(seen.has('src/tick/loop.ts')).toBe(true);
    expect(paths).toEqual([]);
  });
});
