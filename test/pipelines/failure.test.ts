import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PIPELINE_KINDS, validatePipelineConfig } from '../../src/apps/pipeline-config';
import { AppError } from '../../src/errors';
import { describeRunFailure, GENERIC_FAILURE_MESSAGE, runPipeline } from '../../src/pipelines/index';
import { failure } from './helpers';

const failing = { argv: ['sh', '-c', 'echo "db at 10.0.0.5:5432 refused user admin" >&2; exit 3'] };

describe('describeRunFailure (finding 11)', () => {
  test('by default the caller gets the code, a generic message and the run id; the log gets the stderr tail', async () => {
    const error = await failure(runPipeline({ kind: 'command', config: failing }, {}, { signal: new AbortController().signal, onDelta: () => {} }));
    const described = describeRunFailure(error, failing, 'run_0123456789abcdef01234567');
    assert.deepEqual(described, {
      code: 'pipeline_failed',
      message: `${GENERIC_FAILURE_MESSAGE} (run run_0123456789abcdef01234567)`,
      detail: 'the command exited with code 3: db at 10.0.0.5:5432 refused user admin',
    });
    assert.equal(GENERIC_FAILURE_MESSAGE, 'the pipeline failed; the server log has the details');
  });

  test('"expose_errors": true shows the caller the detail too', async () => {
    const config = { ...failing, expose_errors: true };
    const error = await failure(runPipeline({ kind: 'command', config }, {}, { signal: new AbortController().signal, onDelta: () => {} }));
    const described = describeRunFailure(error, config, 'run_x');
    assert.equal(described.code, 'pipeline_failed');
    assert.equal(described.message, 'the pipeline failed: the command exited with code 3: db at 10.0.0.5:5432 refused user admin (run run_x)');
    assert.equal(described.detail, 'the command exited with code 3: db at 10.0.0.5:5432 refused user admin');
    assert.equal(describeRunFailure(error, { ...failing, expose_errors: false }).message, GENERIC_FAILURE_MESSAGE);
  });

  test("errors of the caller's own making and timeouts keep their message; they have no detail", () => {
    const invalid = new AppError('validation_failed', 'message: must be a string', { field: 'message' });
    assert.deepEqual(describeRunFailure(invalid, {}), { code: 'validation_failed', message: 'message: must be a string', detail: undefined });
    const timeout = new AppError('pipeline_timeout', 'the pipeline did not finish within 200 ms (its timeout_ms)');
    assert.deepEqual(describeRunFailure(timeout, { argv: ['x'] }, 'run_t'), { code: 'pipeline_timeout', message: 'the pipeline did not finish within 200 ms (its timeout_ms) (run run_t)', detail: undefined });
  });

  test('anything else is internal: a generic message, the error for the log', () => {
    const described = describeRunFailure(new TypeError("Cannot read properties of undefined (reading 'x')"), { argv: ['x'] });
    assert.equal(described.code, 'internal');
    assert.equal(described.message, 'internal error; the server log has the details');
    assert.match(described.detail!, /TypeError: Cannot read properties/);
  });
});

describe('pipeline config: the new options', () => {
  test('expose_errors is an optional boolean on every kind', () => {
    const minimal = { echo: {}, command: { argv: ['true'] }, http: { url: 'http://127.0.0.1:9/x' }, openai: { base_url: 'http://127.0.0.1:9/v1', model: 'm' } };
    for (const kind of PIPELINE_KINDS) {
      assert.deepEqual(validatePipelineConfig(kind, { ...minimal[kind], expose_errors: true }), { ...minimal[kind], expose_errors: true });
      assert.throws(() => validatePipelineConfig(kind, { ...minimal[kind], expose_errors: 'yes' }), (error: AppError) => error.code === 'validation_failed' && /config\.expose_errors/.test(error.message));
    }
  });

  test('allow_system_messages is an optional boolean of openai', () => {
    assert.ok(validatePipelineConfig('openai', { base_url: 'http://127.0.0.1:9/v1', model: 'm', allow_system_messages: true }));
    assert.throws(() => validatePipelineConfig('openai', { base_url: 'http://127.0.0.1:9/v1', model: 'm', allow_system_messages: 1 }), /config\.allow_system_messages/);
    assert.throws(() => validatePipelineConfig('http', { url: 'http://127.0.0.1:9/x', allow_system_messages: true }), /allow_system_messages/);
  });

  test('an upstream URL with credentials in it is refused, saying where they go instead', () => {
    assert.throws(() => validatePipelineConfig('http', { url: 'https://user:secret@example.com/hook' }), /config\.url: must not hold credentials .*"headers"/);
    assert.throws(() => validatePipelineConfig('openai', { base_url: 'https://key@example.com/v1', model: 'm' }), /config\.base_url: must not hold credentials .*api_key_env/);
  });
});
