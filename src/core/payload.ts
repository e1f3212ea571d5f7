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
