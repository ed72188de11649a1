import { describe, expect, it } from 'vitest';
import { formatDuration, parseDurationMs } from '../../src/config/duration.js';

describe('parseDurationMs', () => {
  it.each([
    ['30', 30_000],
    ['+5', 5_000],
    ['0', 0],
    ['1m30s', 90_000],
    ['1.5s', 1_500],
    ['500ms', 500],
    ['.5s', 500],
    ['1h', 3_600_000],
    ['2h45m', 9_900_000],
    ['1500us', 1.5],
    ['10µs', 0.01],
    ['+5s', 5_000],
  ])('reads %j as %d ms', (raw, ms) => {
    expect(parseDurationMs(raw)).toBe(ms);
  });

  it.each(['', '-5', '-5s', '10x', ' 30', '30 ', '"30s"', "'30s'", '1.5', 's', '5d', '1m30', '--1s', 'abc'])(
    'rejects %j',
    (raw) => {
      expect(parseDurationMs(raw)).toBeUndefined();
    },
  );
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [500, '500ms'],
    [1_500, '1.5s'],
    [30_000, '30s'],
    [90_000, '1m30s'],
    [90_500, '1m30.5s'],
    [3_600_000, '1h0m0s'],
    [0.5, '500µs'],
  ])('writes %d ms as Go does: %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
