import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MAX_JSON_DEPTH, parseJsonObject } from '../../src/http/json-body';

const NOT_JSON = 'the body is not valid JSON; send a JSON object such as {"message": "Hello"}';
const NOT_OBJECT = 'the body must be a JSON object such as {"message": "Hello"}';
const TOO_DEEP = /^the body nests objects or arrays more than 64 levels deep; send a flatter JSON object$/;

/** `{"a":{"a":…}}` with `depth` objects (the outer one counts as 1). */
function nestedObjects(depth: number): string {
  return `${'{"a":'.repeat(depth - 1)}{}${'}'.repeat(depth - 1)}`;
}

/** `{"a":[[…]]}`: one object holding arrays, `depth` levels in all. */
function nestedArrays(depth: number): string {
  return `{"a":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;
}

const parse = (text: string, maxDepth?: number) => parseJsonObject(Buffer.from(text), maxDepth);

describe('parseJsonObject', () => {
  test('a JSON object is its value', () => {
    assert.deepEqual(parse('{"message": "Hello, how can I reset my password?"}'), { ok: true, value: { message: 'Hello, how can I reset my password?' } });
    assert.deepEqual(parse(' {"n": [1, {"b": null}], "s": "ü ✓ 🎉"} \n'), { ok: true, value: { n: [1, { b: null }], s: 'ü ✓ 🎉' } });
  });

  test('not JSON, not an object, empty: the same answers the trigger gave before', () => {
    for (const text of ['{"message": ', 'message=hi', '{"a": 1,}', "{'a': 1}", '\ufeff{}']) assert.deepEqual(parse(text), { ok: false, message: NOT_JSON }, text);
    for (const text of ['["Hello"]', 'null', '"text"', '42', 'true', '']) assert.deepEqual(parse(text), { ok: false, message: NOT_OBJECT }, JSON.stringify(text));
  });

  test(`nesting up to ${MAX_JSON_DEPTH} levels is accepted, one more is refused (objects and arrays alike)`, () => {
    assert.equal(MAX_JSON_DEPTH, 64);
    for (const nested of [nestedObjects, nestedArrays]) {
      assert.equal(parse(nested(64)).ok, true, `${nested.name}(64)`);
      const refused = parse(nested(65));
      assert.equal(refused.ok, false);
      assert.match((refused as { message: string }).message, TOO_DEEP);
    }
    // A custom limit.
    assert.equal(parse(nestedObjects(3), 3).ok, true);
    assert.equal(parse(nestedObjects(4), 3).ok, false);
  });

  test('brackets inside strings, escaped quotes and backslashes do not count', () => {
    const brackets = '['.repeat(1_000);
    assert.deepEqual(parse(JSON.stringify({ text: brackets })), { ok: true, value: { text: brackets } });
    const tricky = { a: 'a \\" quote [[[[', b: 'ends in a backslash \\', c: '\\\\"{{{{', d: [['x']] };
    assert.deepEqual(parse(JSON.stringify(tricky)), { ok: true, value: tricky });
    // An escaped quote must not end the string, or the brackets after it would count.
    const text = `{"a": "\\" ${'['.repeat(100)}"}`;
    assert.deepEqual(parse(text), { ok: true, value: { a: `" ${'['.repeat(100)}` } });
  });

  test('a body nested a million levels deep is refused without overflowing the stack, in linear time', () => {
    for (const text of ['['.repeat(1_000_000), nestedObjects(1_000_000), `{"a":${'['.repeat(1_000_000)}`]) {
      const refused = parse(text);
      assert.equal(refused.ok, false);
      assert.match((refused as { message: string }).message, TOO_DEEP);
    }
  });

  test('a deep body of another kind (not JSON at all) is "not JSON", never a crash', () => {
    assert.deepEqual(parse(`${']'.repeat(100_000)}${'['.repeat(60)}`), { ok: false, message: NOT_JSON });
  });
});
