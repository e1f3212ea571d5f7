/**
 * Checks that a payload survives JSON exactly (what the handler receives equals what the producer sent).
 * Iterative, so a deeply nested or cyclic value gets a ValidationError instead of a stack overflow. A value
 * referenced twice (not a cycle) is fine: JSON writes it twice.
 */
import { ValidationError } from '../errors.js';
import type { JsonValue } from './types.js';

export const MAX_PAYLOAD_DEPTH = 64;

/** One value on the walk: the path string is built only when an error needs it. */
interface Visit {
  readonly value: unknown;
  readonly parent: Visit | undefined;
  /** Object key or array index under the parent. */
  readonly step: string | number;
  readonly depth: number;
}

function pathOf(visit: Visit, root: string): string {
  const steps: Array<string | number> = [];
  for (let v: Visit | undefined = visit; v?.parent; v = v.parent) steps.push(v.step);
  let path = root;
  for (let i = steps.length - 1; i >= 0; i--) {
    const step = steps[i]!;
    path += typeof step === 'number' ? `[${step}]` : `.${step}`;
  }
  return path;
}

/**
 * The serialized payload when `payload` is certainly valid, else undefined; never throws. The common case
 * of every `schedule()`: a recursive walk that allocates nothing (no path, no cycle set: a cycle is deeper
 * than MAX_PAYLOAD_DEPTH, so it fails here too), then one `JSON.stringify`. Anything it does not accept goes
 * to `serializePayload`, which names the error. It accepts no more than `serializePayload` does (a property
 * test checks the two agree).
 *
 * Why not just `serializePayload`: its walk allocates a visit record and a stack entry per value and a Set
 * of ancestors. For the bench's 100-byte payload (micro-benchmark, 2026-12-02, a loaded 2-vCPU VM) it costs
 * ~0.9 µs on top of `JSON.stringify`; this walk ~0.1 µs.
 */
export function serializeCommonPayload(payload: unknown, maxBytes: number): string | undefined {
  walkBudget = maxBytes;
  if (!isPlainJson(payload, 0)) return undefined;
  const json = JSON.stringify(payload as JsonValue);
  // A UTF-16 code unit is at most 3 bytes of UTF-8: count bytes only when that bound can exceed the limit.
  if (json.length * 3 > maxBytes && Buffer.byteLength(json, 'utf8') > maxBytes) return undefined;
  return json;
}

/** Values `isPlainJson` may still visit: each adds at least one byte of JSON, as in `serializePayload`. */
let walkBudget = 0;

function isPlainJson(value: unknown, depth: number): boolean {
  if (--walkBudget < 0) return false;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value) && (value !== 0 || 1 / value > 0); // not -0
    case 'object': {
      if (value === null) return true;
      if (depth >= MAX_PAYLOAD_DEPTH) return false;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          if (!(i in value) || !isPlainJson(value[i], depth + 1)) return false;
        }
        return true;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return false;
      // for-in also sees enumerable inherited properties (a polluted prototype): stricter, never looser.
      for (const key in value) {
        if (!isPlainJson((value as Record<string, unknown>)[key], depth + 1)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

/** Returns the serialized payload or throws a ValidationError naming the offending path. */
export function serializePayload(field: string, payload: unknown, maxBytes: number): string {
  // Objects on the path from the root to the current value: a cycle, unlike a shared reference, meets one.
  const ancestors = new Set<object>();
  const stack: Array<Visit | { leave: object }> = [{ value: payload, parent: undefined, step: '', depth: 0 }];
  // Each value visited adds at least one byte of JSON, so this bounds the walk of shared references too.
  let visited = 0;
  while (stack.length > 0) {
    const entry = stack.pop()!;
    if ('leave' in entry) {
      ancestors.delete(entry.leave);
      continue;
    }
    const { value, depth } = entry;
    if (++visited > maxBytes) {
      throw new ValidationError(
        field,
        `more than ${maxBytes} bytes of JSON`,
        `at most ${maxBytes} bytes (maxPayloadBytes)`,
      );
    }
    switch (typeof value) {
      case 'string':
      case 'boolean':
        continue;
      case 'number':
        if (!Number.isFinite(value))
          throw new ValidationError(
            pathOf(entry, field),
            value,
            'a finite number (JSON has no NaN or Infinity)',
          );
        if (Object.is(value, -0))
          throw new ValidationError(pathOf(entry, field), '-0', 'a number that survives JSON (-0 becomes 0)');
        continue;
      case 'object': {
        if (value === null) continue;
        if (depth >= MAX_PAYLOAD_DEPTH) {
          throw new ValidationError(
            pathOf(entry, field),
            '(nested deeper)',
            `a JSON value nested at most ${MAX_PAYLOAD_DEPTH} levels deep`,
          );
        }
        if (ancestors.has(value))
          throw new ValidationError(pathOf(entry, field), '(a cycle)', 'a JSON value without cycles');
        ancestors.add(value);
        stack.push({ leave: value });
        if (Array.isArray(value)) {
          for (let i = 0; i < value.length; i++) {
            if (!(i in value))
              throw new ValidationError(
                `${pathOf(entry, field)}[${i}]`,
                undefined,
                'a JSON value (sparse arrays lose holes)',
              );
            stack.push({ value: value[i], parent: entry, step: i, depth: depth + 1 });
          }
          continue;
        }
        const proto = Object.getPrototypeOf(value);
        if (proto !== Object.prototype && proto !== null) {
          const kind = (value as object).constructor?.name ?? 'object';
          throw new ValidationError(
            pathOf(entry, field),
            `a ${kind}`,
            'a plain JSON object, array, string, number, boolean or null',
          );
        }
        for (const key of Object.keys(value)) {
          stack.push({
            value: (value as Record<string, unknown>)[key],
            parent: entry,
            step: key,
            depth: depth + 1,
          });
        }
        continue;
      }
      default:
        throw new ValidationError(
          pathOf(entry, field),
          value,
          'a JSON value (string, number, boolean, null, array or plain object)',
        );
    }
  }
  const json = JSON.stringify(payload as JsonValue);
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes > maxBytes) {
    throw new ValidationError(field, `${bytes} bytes of JSON`, `at most ${maxBytes} bytes (maxPayloadBytes)`);
  }
  return json;
}
