import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { crc32 } from 'node:zlib';
import { checksum, crc32Of, generateId, generateValue, hashValue, hintFor, parseValue, VALUE_LENGTH } from '../../src/tokens/value';

describe('token values', () => {
  test('have the documented shape: prefix, 30 base62 characters, 6-character checksum', () => {
    const value = generateValue('trigger');
    assert.match(value, /^mm_tok_[0-9A-Za-z]{36}$/);
    assert.equal(value.length, VALUE_LENGTH);
    assert.equal(value.slice(-6), checksum(value.slice(0, -6)));
    assert.match(generateValue('admin'), /^mm_adm_[0-9A-Za-z]{36}$/);
  });

  test("the checksum is zlib's CRC-32, so values issued by any version still parse", () => {
    assert.equal(crc32Of('123456789'), 0xcbf43926, 'the CRC-32 check value');
    assert.equal(crc32Of(''), 0);
    for (const text of ['mm_tok_', 'mm_tok_AbCdEfGhIjKlMnOpQrStUvWxYz0123', 'ünïcödé €', '\u0000\u007f\u0080', ...Array.from({ length: 200 }, () => generateValue('trigger'))]) {
      assert.equal(crc32Of(text), crc32(text) >>> 0, JSON.stringify(text.slice(0, 12)));
    }
    // A value issued before the checksum was summed in JavaScript (zlib's, by construction).
    const body = 'mm_tok_0123456789ABCDEFGHIJabcdefghij';
    let n = crc32(body) >>> 0;
    let expected = '';
    for (let i = 0; i < 6; i++, n = Math.floor(n / 62)) expected = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'[n % 62] + expected;
    assert.equal(checksum(body), expected);
    assert.deepEqual(parseValue(body + expected), { ok: true, kind: 'trigger' });
  });

  test('are unique and use the whole alphabet', () => {
    const values = new Set(Array.from({ length: 2000 }, () => generateValue('trigger')));
    assert.equal(values.size, 2000);
    const seen = new Set([...values].flatMap((v) => [...v.slice(7, 37)]));
    assert.equal(seen.size, 62, 'every base62 character appears in 60,000 random characters');
  });

  test('parse: a valid value of each kind is accepted', () => {
    assert.deepEqual(parseValue(generateValue('trigger')), { ok: true, kind: 'trigger' });
    assert.deepEqual(parseValue(generateValue('admin')), { ok: true, kind: 'admin' });
  });

  const good = generateValue('trigger');
  const flipped = (i: number) => good.slice(0, i) + (good[i] === 'a' ? 'b' : 'a') + good.slice(i + 1);
  const cases: Array<[string, string, RegExp]> = [
    ['wrong prefix', `mm_key_${good.slice(7)}`, /does not start with/],
    ['no prefix', good.slice(7), /does not start with/],
    ['too short', good.slice(0, -1), /has 42 characters/],
    ['too long', `${good}A`, /has 44 characters/],
    ['characters outside base62', `${good.slice(0, 20)}-${good.slice(21)}`, /outside/],
    ['a character outside base62 among the checksum', `${good.slice(0, 40)}_${good.slice(41)}`, /outside/],
    ['a non-ASCII character', `${good.slice(0, 20)}é${good.slice(21)}`, /outside/],
    // U+0141's low byte is "A": a check on the low byte alone would take it for base62.
    ['a character whose low byte is base62', `${good.slice(0, 20)}\u0141${good.slice(21)}`, /outside/],
    ['one random character changed', flipped(12), /checksum/],
    ['one checksum character changed', flipped(40), /checksum/],
    ['empty', '', /does not start with/],
  ];
  for (const [name, value, problem] of cases) {
    test(`parse rejects ${name} without quoting the value`, () => {
      const result = parseValue(value);
      assert.equal(result.ok, false);
      if (result.ok) return;
      assert.match(result.problem, problem);
      if (value.length > 10) assert.ok(!result.problem.includes(value.slice(7, 20)), 'problem text must not quote the token');
    });
  }

  test('parse accepts exactly the values whose last 6 characters are the checksum of the rest', () => {
    // Every single-character change of real values, judged against the definition (checksum()).
    const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    let accepted = 0;
    for (const value of [generateValue('trigger'), generateValue('admin'), 'mm_tok_000000000000000000000000000000' + checksum('mm_tok_000000000000000000000000000000')]) {
      for (let i = 7; i < VALUE_LENGTH; i++) {
        for (const ch of alphabet) {
          const changed = value.slice(0, i) + ch + value.slice(i + 1);
          const expected = checksum(changed.slice(0, -6)) === changed.slice(-6);
          const result = parseValue(changed);
          assert.equal(result.ok, expected, `position ${i}`);
          if (result.ok) accepted++;
          else assert.match(result.problem, /checksum/);
        }
      }
    }
    assert.equal(accepted, 3 * 36, 'only the unchanged values (one per position) are accepted');
  });

  test('hash is SHA-256 hex of the whole value; hint shows 4 + 4 characters', () => {
    const value = generateValue('trigger');
    assert.match(hashValue(value), /^[0-9a-f]{64}$/);
    assert.notEqual(hashValue(value), hashValue(generateValue('trigger')));
    const hint = hintFor(value);
    assert.equal(hint, `${value.slice(0, 11)}…${value.slice(-4)}`);
    assert.ok(!hint.includes(value.slice(11, 39)));
  });

  test('ids are tok_/adm_ + 20 lowercase base32 characters', () => {
    assert.match(generateId('trigger'), /^tok_[a-z2-7]{20}$/);
    assert.match(generateId('admin'), /^adm_[a-z2-7]{20}$/);
  });
});
