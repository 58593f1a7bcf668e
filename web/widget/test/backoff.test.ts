import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay } from '../src/backoff';

test('exponential from 1s, capped at 30s', () => {
  const mid = () => 0.5; // no jitter
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6, 10, 100].map((a) => backoffDelay(a, mid)),
    [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000],
  );
});

test('jitter stays within 1s..30s', () => {
  for (let a = 0; a < 12; a++) {
    for (const r of [0, 0.01, 0.37, 0.5, 0.99, 1]) {
      const d = backoffDelay(a, () => r);
      assert.ok(d >= 1000 && d <= 30000, `attempt ${a} r ${r}: ${d}`);
    }
  }
  assert.notEqual(backoffDelay(3, () => 0), backoffDelay(3, () => 1));
});

test('minimum delay (rate limited) is honoured', () => {
  assert.ok(backoffDelay(0, () => 0, 15000) >= 15000);
  assert.ok(backoffDelay(0, () => 1, 15000) <= 18000);
});
