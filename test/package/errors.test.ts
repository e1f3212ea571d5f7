/**
 * One set of error names: every error class README names is exported from `tickset` under that name, each
 * exported error's `name` is `Tickset` + its class name, and an error thrown by `tickset/handler` code is an
 * instance of the classes exported by `tickset` (the build is checked the same way by consumer-app.test.ts).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as main from 'tickset';
import * as handler from 'tickset/handler';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
type ErrorClass = new (...args: unknown[]) => Error;

const exported = main as unknown as Record<string, unknown>;
const errorClasses = Object.entries(exported).filter(
  (entry): entry is [string, ErrorClass] =>
    typeof entry[1] === 'function' && entry[1].prototype instanceof Error,
);

describe('error names', () => {
  it('every error README names is exported from tickset under that name', () => {
    const readme = readFileSync(resolve(root, 'README.md'), 'utf8');
    const named = new Set([...readme.matchAll(/`([A-Z][A-Za-z]*Error)\b/g)].map((m) => m[1]!));
    named.delete('TypeError');
    expect(named.size).toBeGreaterThan(3);
    for (const name of named) {
      expect(main, `README names ${name}`).toHaveProperty(name);
      const Class = exported[name] as ErrorClass;
      expect(Class === main.TicksetError || Class.prototype instanceof main.TicksetError).toBe(true);
    }
  });

  it('every exported error is a TicksetError whose name is Tickset + its class name', () => {
    expect(errorClasses.length).toBeGreaterThan(5);
    for (const [exportName, Class] of errorClasses) {
      const error = new Class(['a'], ['b'], ['c']);
      expect(error).toBeInstanceOf(main.TicksetError);
      expect(error.name).toBe(exportName === 'TicksetError' ? 'TicksetError' : `Tickset${exportName}`);
    }
  });

  it('an error thrown from tickset/handler is an instance of the classes exported by tickset', () => {
    let thrown: unknown;
    try {
      handler.parseTaskEvent(null);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(main.MalformedEventError);
    expect(thrown).toBeInstanceOf(main.TicksetError);
    expect(handler.MalformedEventError).toBe(main.MalformedEventError);
  });
});
