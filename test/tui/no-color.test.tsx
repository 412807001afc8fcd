import './force-color';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { colorsWanted } from '../../tui/hooks/use-theme';
import { testServices } from '../helpers/services';
import { renderTui } from './render-tui';

/** SGR sequences that set a foreground or background colour (16, 256 or true colour); 39 and 49 reset to the default. */
const COLOR_SGR = /\u001B\[(?:\d+;)*(?:3[0-8]|4[0-8]|9[0-7]|10[0-7])(?:;\d+)*m/;

async function seeded() {
  const services = await testServices();
  await services.tokens.create({ app: 'default', name: 'Working', expires: '30d' }, 'cli');
  await services.tokens.create({ app: 'default', name: 'Almost due', expires: '2d' }, 'cli');
  const gone = await services.tokens.create({ app: 'default', name: 'Gone', expires: '30d' }, 'cli');
  await services.tokens.revoke(gone.token.id, 'cli');
  services.clock.advance(1.6 * 86_400_000); // "Almost due" is past 75 % of its two days: expiring
  return services;
}

describe('NO_COLOR', () => {
  test('NO_COLOR set and not empty turns colours off (no-color.org)', async () => {
    assert.equal(colorsWanted({}), true);
    assert.equal(colorsWanted({ NO_COLOR: '' }), true);
    assert.equal(colorsWanted({ NO_COLOR: '1' }), false);
    assert.equal(colorsWanted({ NO_COLOR: 'true' }), false);
  });

  test('with colours, statuses are coloured (so the check below means something)', async () => {
    const ui = renderTui(await seeded(), { initialApp: 'default', colors: true });
    const frame = await ui.waitFor('Gone');
    assert.match(frame, COLOR_SGR);
    assert.ok(frame.includes('\u001B[32mactive'), 'active in green');
    assert.ok(frame.includes('\u001B[33mexpiring'), 'expiring in yellow');
    assert.ok(frame.includes('\u001B[31mrevoked'), 'revoked in red');
  });

  test('without colours: no colour codes on any screen, statuses readable as words', async () => {
    const ui = renderTui(await seeded(), { colors: false });
    const frames: string[] = [await ui.waitFor(/› default/)];
    ui.press('\r');
    frames.push(await ui.waitFor('Gone'));
    const tokens = frames.at(-1)!.replace(/\u001B\[[0-9;]*m/g, ''); // bold and inverse are not colours
    assert.match(tokens, /Working\s+\S+\s+active/);
    assert.match(tokens, /Almost due\s+\S+\s+expiring/);
    assert.match(tokens, /Gone\s+\S+\s+revoked/);
    ui.press('c');
    frames.push(await ui.waitFor('Create a token'));
    ui.press('\r');
    frames.push(await ui.waitFor('Error: name'));
    ui.press('x', '\r');
    frames.push(await ui.waitFor('expires in:'));
    ui.press('\r');
    frames.push(await ui.waitFor('copy it now'));
    ui.press('\r');
    frames.push(await ui.waitForGone('copy it now'));
    // The list is read again after the create (on PostgreSQL a moment later): r acts on the new token once it is selected.
    frames.push(await ui.waitFor((f) => /› x\s/.test(f.replace(/\u001B\[[0-9;]*m/g, ''))));
    ui.press('r');
    frames.push(await ui.waitFor('[y/N]'));
    ui.press('n');
    await ui.waitFor('nothing was revoked');
    ui.press('\t');
    frames.push(await ui.waitFor('[Pipelines]'));
    ui.press('\t');
    frames.push(await ui.waitFor('[Audit]'));
    ui.press('?');
    frames.push(await ui.waitFor('Press any key'));
    for (const frame of frames) assert.doesNotMatch(frame, COLOR_SGR, frame);
  });
});
