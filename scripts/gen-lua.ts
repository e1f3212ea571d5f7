/**
 * Generates `src/core/scripts.generated.ts` from `src/core/lua/*.lua`. The generated module is what every
 * bundle (producer, tick, handler) imports, so no bundle depends on reading `.lua` files at run time.
 *
 * The Lua library is `src/core/lua/includes/`: one function (or one concern) per file. A script or an
 * include names what it uses with `-- @include <file>.lua` lines; each line is replaced by that include
 * (its own includes first, resolved transitively), and an include already placed in the script is not
 * placed again. So each generated script holds only the library code it uses. Checked here:
 * - an include whose names (top-level `local function x` / `local x =`) the script never uses is an error;
 * - a script that calls a library function it neither includes nor defines is an error (it would be a
 *   nil global at run time).
 *
 * The generated text keeps each script's `--[[ … ]]` header (KEYS, ARGV, returns) and drops the line
 * comments of the body and of the includes (a third of the text: every bundle carries it, and Redis never
 * shows it); the `.lua` files are the source to read.
 *
 * `--check` fails when the generated file is out of date (run in `npm run lint`).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const luaDir = join(import.meta.dirname, '..', 'src', 'core', 'lua');
const includesDir = join(luaDir, 'includes');
const outFile = join(import.meta.dirname, '..', 'src', 'core', 'scripts.generated.ts');

const INCLUDE = /^-- @include (\S+)$/;

/** Top-level names an include (or script) defines. */
function definedNames(source: string): string[] {
  return [...source.matchAll(/^local (?:function )?([A-Za-z_][A-Za-z0-9_]*)/gm)].map((m) => m[1]!);
}

const library = new Map(
  readdirSync(includesDir)
    .filter((f) => f.endsWith('.lua'))
    .map((f) => [f, readFileSync(join(includesDir, f), 'utf8')] as const),
);

/** `source` with its include lines resolved; `placed` collects the includes placed so far. */
function resolveIncludes(source: string, placed: Set<string>, from: string): string {
  const out: string[] = [];
  for (const line of source.split('\n')) {
    const m = INCLUDE.exec(line);
    if (!m) {
      out.push(line);
      continue;
    }
    const name = m[1]!;
    const text = library.get(name);
    if (text === undefined) throw new Error(`${from}: no include ${name} in src/core/lua/includes/`);
    if (placed.has(name)) continue;
    placed.add(name);
    out.push(resolveIncludes(text.trimEnd(), placed, name), '');
  }
  return out.join('\n');
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Lua code without its `--` comments (a comment that names a function does not use it). */
function code(lua: string): string {
  return lua
    .split('\n')
    .map((line) => {
      let quote = '';
      for (let i = 0; i < line.length; i++) {
        const c = line[i]!;
        if (quote) {
          if (c === '\\') i++;
          else if (c === quote) quote = '';
        } else if (c === '"' || c === "'") quote = c;
        else if (c === '-' && line[i + 1] === '-') return line.slice(0, i);
      }
      return line;
    })
    .join('\n');
}

const occurrences = (text: string, name: string) =>
  (code(text).match(new RegExp(`(?<![A-Za-z0-9_.])${escapeRegExp(name)}(?![A-Za-z0-9_])`, 'g')) ?? []).length;

function checkUses(file: string, lua: string, placed: ReadonlySet<string>): void {
  for (const include of placed) {
    const names = definedNames(library.get(include)!);
    if (!names.some((n) => occurrences(lua, n) > 1)) {
      throw new Error(`${file}: includes ${include} but uses none of ${names.join(', ')}`);
    }
  }
  // Every local the script itself declares, at any depth (a local of its own shadows a library name).
  const own = new Set(
    [...code(lua).matchAll(/\blocal\s+(?:function\s+)?([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!),
  );
  for (const [include, text] of library) {
    if (placed.has(include)) continue;
    for (const name of definedNames(text)) {
      if (!own.has(name) && occurrences(lua, name) > 0) {
        throw new Error(`${file}: uses ${name} without -- @include ${include}`);
      }
    }
  }
}

/** The script without its `--` comment lines (the leading `--[[ … ]]` header stays) and repeated blank lines. */
function withoutLineComments(lua: string): string {
  const headerEnd = lua.startsWith('--[[') ? lua.indexOf(']]') + 2 : 0;
  const out: string[] = [];
  for (const line of lua.slice(headerEnd).split('\n')) {
    if (line.trimStart().startsWith('--')) continue;
    if (line.trim() === '' && (out.length === 0 || out.at(-1) === '')) continue;
    out.push(line);
  }
  return lua.slice(0, headerEnd) + (headerEnd > 0 ? '\n' : '') + out.join('\n').trimEnd();
}

function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

const files = readdirSync(luaDir)
  .filter((f) => f.endsWith('.lua'))
  .sort();
const entries = files.map((file) => {
  const placed = new Set<string>();
  const resolved = resolveIncludes(readFileSync(join(luaDir, file), 'utf8'), placed, file);
  checkUses(file, resolved, placed);
  const lua = withoutLineComments(resolved);
  const sha1 = createHash('sha1').update(lua).digest('hex');
  return `  ${camel(file.replace(/\.lua$/, ''))}: { name: ${JSON.stringify(file)}, sha1: '${sha1}', lua: ${JSON.stringify(lua)} },`;
});
const output = `// Generated by scripts/gen-lua.ts from src/core/lua/*.lua. Do not edit: edit the .lua file and run \`npm run gen:lua\`.
export interface LuaSource {
  readonly name: string;
  readonly sha1: string;
  readonly lua: string;
}

export const LUA = {
${entries.join('\n')}
} as const satisfies Record<string, LuaSource>;
`;

if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(outFile, 'utf8');
  } catch {}
  if (current !== output) {
    console.error('src/core/scripts.generated.ts is out of date: run `npm run gen:lua`');
    process.exit(1);
  }
} else {
  writeFileSync(outFile, output);
}
