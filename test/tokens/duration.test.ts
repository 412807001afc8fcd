import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDuration, parseExpiry, parseTime } from '../../src/duration';
import { AppError } from '../../src/errors';

test('durations: 15m, 12h, 30d, 2w, 1y', () => {
  assert.equal(parseDuration('15m'), 15 * 60_000);
  assert.equal(parseDuration('12h'), 12 * 3_600_000);
  assert.equal(parseDuration('30d'), 30 * 86_400_000);
  assert.equal(parseDuration('2w'), 14 * 86_400_000);
  assert.equal(parseDuration('1y'), 365 * 86_400_000);
  for (const bad of ['', '30', 'd', '30 days', '-1d', '1.5d', '30D', 'abc']) assert.equal(parseDuration(bad), undefined, bad);
});

test('times: RFC 3339 with offsets, and a date alone meaning the end of that day UTC', () => {
  assert.equal(parseTime('2027-01-31T12:00:00Z'), Date.UTC(2027, 0, 31, 12));
  assert.equal(parseTime('2027-01-31T12:00:00.250Z'), Date.UTC(2027, 0, 31, 12, 0, 0, 250));
  assert.equal(parseTime('2027-01-31T14:00:00+02:00'), Date.UTC(2027, 0, 31, 12));
  assert.equal(parseTime('2027-06-30'), Date.UTC(2027, 5, 30, 23, 59, 59));
  for (const bad of ['2027-02-30T00:00:00Z', '2027-13-01', '2027-02-30', '2027-01-31T25:00:00Z', '2027-01-31T12:00:00', 'tomorrow', '01/31/2027']) {
    assert.equal(parseTime(bad), undefined, bad);
  }
});

test('parseExpiry takes either form and names the field when it is neither', () => {
  const now = Date.UTC(2026, 0, 1);
  assert.equal(parseExpiry('30d', now), now + 30 * 86_400_000);
  assert.equal(parseExpiry('2026-02-01T00:00:00Z', now), Date.UTC(2026, 1, 1));
  assert.throws(
    () => parseExpiry('next week', now, 'expires_in'),
    (error: unknown) => error instanceof AppError && error.code === 'validation_failed' && /^expires_in: "next week"/.test(error.message),
  );
});
