// The console's pure helpers (no browser needed): routes with a token, the restrictions' request
// body and error routing, and the usage chart's text alternative.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApiError } from '../../web/api';
import { usageSummary } from '../../web/components/usage-chart';
import { addressesOf, controlFieldOf, controlsBody } from '../../web/dialogs/create-token-form';
import { hrefOf, parseRoute } from '../../web/router';

describe('the console’s helpers', () => {
  test('routes: the Usage tab takes a token; no other tab does; hrefOf and parseRoute agree', () => {
    assert.deepEqual(parseRoute('#/apps/default/usage'), { page: 'app', app: 'default', tab: 'usage' });
    assert.deepEqual(parseRoute('#/apps/default/usage/tok_abc'), { page: 'app', app: 'default', tab: 'usage', token: 'tok_abc' });
    assert.deepEqual(parseRoute('#/apps/default/webhooks'), { page: 'app', app: 'default', tab: 'webhooks' });
    assert.equal(parseRoute('#/apps/default/tokens/tok_abc').page, 'not-found');
    assert.equal(parseRoute('#/apps/default/usage/tok_abc/more').page, 'not-found');
    assert.equal(parseRoute('#/apps/default/usage/%E0%A4%A').page, 'not-found', 'a malformed escape');
    for (const route of [
      { page: 'app', app: 'default', tab: 'usage', token: 'tok_abc' },
      { page: 'app', app: 'a b', tab: 'tokens' },
    ] as const) {
      assert.deepEqual(parseRoute(hrefOf(route)), route);
    }
  });

  test('restrictions: only what was given is sent; addresses split on commas, spaces and line breaks', () => {
    assert.deepEqual(controlsBody('', [], ''), {});
    assert.deepEqual(controlsBody('  Deploys main ', ['chat'], '127.0.0.1, 10.0.0.0/8\n2001:db8::/32  '), {
      description: 'Deploys main',
      pipelines: ['chat'],
      allowed_ips: ['127.0.0.1', '10.0.0.0/8', '2001:db8::/32'],
    });
    assert.deepEqual(addressesOf(' , ,'), []);
  });

  test('a 422 naming a restriction goes next to that field; anything else stays with the form', () => {
    assert.equal(controlFieldOf(new ApiError(422, 'validation_failed', 'allowed_ips: "x" is not an IPv4 or IPv6 address')), 'allowed_ips');
    assert.equal(controlFieldOf(new ApiError(422, 'validation_failed', 'pipelines: app "default" has no pipeline "x"')), 'pipelines');
    assert.equal(controlFieldOf(new ApiError(422, 'validation_failed', 'description: is 501 characters long')), 'description');
    assert.equal(controlFieldOf(new ApiError(422, 'validation_failed', 'name: is required')), undefined);
    assert.equal(controlFieldOf(new ApiError(503, 'unavailable', 'allowed_ips: whatever')), undefined);
    assert.equal(controlFieldOf(new Error('allowed_ips: not from the API')), undefined);
  });

  test("the chart's summary: totals, refusals by reason, the busiest day; no requests said plainly", () => {
    const day = (d: string, accepted: number, refused: Record<string, number> = {}) => ({ day: d, accepted, refused, refused_total: Object.values(refused).reduce((a, b) => a + b, 0) });
    assert.equal(
      usageSummary([day('2026-11-30', 3, { rate_limited: 2 }), day('2026-11-29', 9), day('2026-11-28', 0, { ip_not_allowed: 1 })]),
      '3 days: 12 accepted, 3 refused (rate_limited 2, ip_not_allowed 1); busiest 2026-11-29 with 9',
    );
    assert.equal(usageSummary([day('2026-11-30', 0)]), '1 day: no requests');
  });
});
