// Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time per function, heaviest first.
// Usage: node --import tsx test/bench/profile.ts FILE.cpuprofile [TOP]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/**
 * A table of the `top` functions by self time (share of all samples), with file:line. Given
 * `fromUs` (CLOCK_MONOTONIC µs, the clock of V8's profile and of `process.hrtime`), samples before
 * it are left out: start-up and warm-up do not dilute the figures per request.
 */
export function summarizeProfile(file: string, top = 30, requests = 0, fromUs = 0): string {
  const perRequest = (us: number) => (requests > 0 ? `${(us / requests).toFixed(2).padStart(6)} µs/req  ` : '');
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    at += dt;
    if (at < fromUs) return;
    const node = byId.get(id);
    if (!node) return;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url ? `${url.replace(/^file:\/\//, '').replace(process.cwd() + '/', '')}:${lineNumber + 1}` : '';
    const key = `${functionName || '(anonymous)'}  ${where}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  });
  const idle = [...self].filter(([k]) => k.startsWith('(idle)')).reduce((a, [, v]) => a + v, 0);
  const busy = total - idle;
  const rows = [...self]
    .filter(([k]) => !k.startsWith('(idle)'))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, v]) => `${((100 * v) / busy).toFixed(1).padStart(5)} %  ${(v / 1000).toFixed(0).padStart(6)} ms  ${perRequest(v)}${k}`);
  // Also by package / source area, which is what a fix is decided on.
  const areas = new Map<string, number>();
  for (const [k, v] of self) {
    if (k.startsWith('(idle)')) continue;
    const where = k.split('  ')[1] ?? '';
    const area = where.includes('node_modules/')
      ? `npm:${where.split('node_modules/')[1]!.split('/').slice(0, where.includes('node_modules/@') ? 2 : 1).join('/')}`
      : where.startsWith('node:')
        ? where.split(':')[0] + ':' + where.split(':')[1]
        : where.startsWith('src/') || where.includes('/src/')
          ? `src/${where.split('src/')[1]!.split(':')[0]}`
          : where === ''
            ? `native/VM: ${k.split('  ')[0]}`
            : 'other';
    areas.set(area, (areas.get(area) ?? 0) + v);
  }
  const areaRows = [...areas]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 15)
    .map(([k, v]) => `${((100 * v) / busy).toFixed(1).padStart(5)} %  ${perRequest(v)}${k}`);
  return [`busy ${(busy / 1000).toFixed(0)} ms of ${(total / 1000).toFixed(0)} ms sampled${requests > 0 ? `, ${perRequest(busy).trim()} in all` : ''}`, ...rows, '', 'by area:', ...areaRows].join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(summarizeProfile(process.argv[2]!, Number(process.argv[3] ?? 30)));
}
