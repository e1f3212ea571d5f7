import { describe, expect, it } from 'vitest';
import { CliError } from '../../src/cli/errors.js';
import { parseDuration, parseInteger, parseJson, parseTime } from '../../src/cli/parse.js';
import { describeFailure } from '../../src/cli/program.js';
import { ValidationError } from '../../src/errors.js';
import { formatDuration, formatRelative, table } from '../../src/format.js';

describe('parseDuration', () => {
  it.each([
    ['30s', 30_000],
    ['5m', 300_000],
    ['7d', 604_800_000],
    ['1h30m', 5_400_000],
    ['250ms', 250],
    ['1.5s', 1500],
    ['2w', 1_209_600_000],
    ['1H', 3_600_000],
  ])('%s is %i ms', (text, ms) => {
    expect(parseDuration('--in', text)).toBe(ms);
  });

  it.each(['', '30', 's', '3q', '-5s', '5 m', '1h-30m', 'abc'])('rejects %j and names the flag', (text) => {
    expect(() => parseDuration('--in', text)).toThrow(CliError);
    expect(() => parseDuration('--in', text)).toThrow(/invalid --in .*expected a duration such as/);
  });
});

describe('parseTime', () => {
  it('reads ISO 8601 and epoch milliseconds', () => {
    expect(parseTime('--at', '2026-12-01T09:00:00Z')).toBe(Date.UTC(2026, 11, 1, 9));
    expect(parseTime('--at', '2026-12-01T10:00:00+01:00')).toBe(Date.UTC(2026, 11, 1, 9));
    expect(parseTime('--at', '1796115600000')).toBe(1796115600000);
  });
  it.each(['tomorrow', '2026-13-45T00:00:00Z', '12/01/2026', '1e12'])('rejects %j', (text) => {
    expect(() => parseTime('--at', text)).toThrow(/invalid --at .*ISO 8601/);
  });
});

describe('parseInteger and parseJson', () => {
  it('checks the range', () => {
    expect(parseInteger('--limit', '20', 1, 100)).toBe(20);
    expect(() => parseInteger('--limit', '0', 1, 100)).toThrow(/from 1 to 100/);
    expect(() => parseInteger('--limit', '2.5', 1, 100)).toThrow(/invalid --limit/);
  });
  it('reports bad JSON with the flag', () => {
    expect(parseJson('--payload', '{"a":1}')).toEqual({ a: 1 });
    expect(() => parseJson('--payload', '{a:1}')).toThrow(/invalid --payload "\{a:1\}": expected valid JSON/);
  });
});

describe('format', () => {
  it('formats durations for people', () => {
    expect(formatDuration(850)).toBe('850ms');
    expect(formatDuration(4200)).toBe('4.2s');
    expect(formatDuration(185_000)).toBe('3m 05s');
    expect(formatDuration(7_500_000)).toBe('2h 05m');
    expect(formatDuration(3 * 86_400_000 + 4 * 3_600_000)).toBe('3d 04h');
    expect(formatDuration(7 * 86_400_000)).toBe('7d');
    expect(formatDuration(300_000)).toBe('5m');
    expect(formatRelative(10_000, 0)).toBe('in 10s');
    expect(formatRelative(0, 10_000)).toBe('10s ago');
  });
  it('aligns tables, numbers to the right', () => {
    expect(
      table(
        ['NAME', 'N'],
        [
          ['a', 1],
          ['bbb', 100],
        ],
      ),
    ).toBe('NAME    N\na       1\nbbb   100');
  });
});

describe('describeFailure', () => {
  it('maps errors to one line and an exit code', () => {
    expect(describeFailure(new CliError('bad', 1))).toEqual({ message: 'bad', exitCode: 1 });
    expect(describeFailure(new Error('connect ECONNREFUSED 127.0.0.1:1')).exitCode).toBe(2);
    expect(describeFailure(new Error('OOM command not allowed when used memory > maxmemory')).exitCode).toBe(
      2,
    );
    expect(describeFailure(new Error('NOAUTH Authentication required.')).exitCode).toBe(2);
    expect(describeFailure(new Error('ERR Error running script')).exitCode).toBe(1);
    const validation = describeFailure(new ValidationError('options.at', 'x', 'a time'));
    expect(validation).toEqual({ message: 'Invalid options.at: got "x"; expected a time.', exitCode: 1 });
    expect(describeFailure('weird').message).toBe('unexpected error: weird');
  });
});
