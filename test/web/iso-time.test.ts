import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isoTime } from '../../src/security/clock.ts';

// isoTime stands in for Date#toISOString in the API's answers; it must give the same string for
// every time value, or leave the value to Date (with Date's error).

const viaDate = (ms: number) => {
  try {
    return new Date(ms).toISOString();
  } catch (e) {
    return `throws ${(e as Error).name}`;
  }
};
const viaIso = (ms: number) => {
  try {
    return isoTime(ms);
  } catch (e) {
    return `throws ${(e as Error).name}`;
  }
};

test('isoTime equals Date#toISOString at the edges of months, leap years, eras and its own range', () => {
  const edges = [
    0,
    -1,
    1,
    999,
    1000,
    -62167219200000,
    -62167219200001,
    253402300799999,
    253402300800000,
    Date.UTC(2000, 1, 29),
    Date.UTC(1900, 1, 28, 23, 59, 59, 999),
    Date.UTC(1900, 2, 1),
    Date.UTC(2100, 2, 1) - 1,
    Date.UTC(2024, 11, 31, 23, 59, 59, 999),
    Date.UTC(2026, 10, 23, 12, 5, 7, 9),
    Date.UTC(999, 0, 1),
    Date.UTC(99, 0, 1) - 1e12,
    8.64e15,
    -8.64e15,
    8.64e15 + 1,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    1.5,
    -0.5,
    -0,
  ];
  for (const ms of edges) assert.equal(viaIso(ms), viaDate(ms), `at ${ms}`);
});

test('isoTime equals Date#toISOString for any integer time value', () => {
  fc.assert(
    fc.property(fc.integer({ min: -8.64e15, max: 8.64e15 }), (ms) => viaIso(ms) === viaDate(ms)),
    { numRuns: 20_000 },
  );
  fc.assert(
    fc.property(fc.integer({ min: -62167219200000, max: 253402300799999 }), (ms) => viaIso(ms) === viaDate(ms)),
    { numRuns: 50_000 },
  );
});
