// Crash: CRASH_ROUNDS (100) rounds of "change tokens through the admin API, kill -9 the server as
// soon as an answer arrives, restart". Promise: every acknowledged change (a 201 create, a 200
// revoke) is in the database after the restart — read straight from the file (read-only) after
// each restart, and once more through `mechamental tokens list --json` at the end.
//
// Each round sends one to three changes at once and kills on the first answer, so that other
// changes are in flight at the moment of the kill (those are unacknowledged: they may or may not
// be there, both are fine). Run alone: node --import tsx test/reliability/crash.ts
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCliAsync } from '../helpers/cli';
import { freePort, killAll, sleep } from '../bench/lib/proc';
import { makeTempDir, startServe, withServices } from '../bench/lib/servers';
import { prng } from '../bench/lib/stats';
import { request } from './lib/http';
import { figure, newReport, promise, readTokens, runAsScript, type Report } from './lib/report';

export async function crash(): Promise<Report> {
  const report = newReport('crash (kill -9 after acknowledged admin API changes)');
  const rounds = Number(process.env.CRASH_ROUNDS ?? 100);
  const seed = Number(process.env.CRASH_SEED ?? 6006);
  const random = prng(seed);
  const tmp = makeTempDir('mm-crash-');
  const dataDir = path.join(tmp.dir, 'data');
  const logFile = path.join(tmp.dir, 'server.log');
  try {
    const admin = await withServices(dataDir, async (s) => (await s.tokens.createAdmin({ name: 'crash harness', expires: '1d' }, 'cli')).value);
    const port = await freePort();
    const created = new Set<string>(); // acknowledged creates
    const revoked = new Set<string>(); // acknowledged revokes
    let acknowledged = 0;
    let inFlightAtKill = 0;
    let lost = 0;
    const lostDetail: string[] = [];
    let restarts = 0;
    const startTimes: number[] = [];

    const check = (when: string) => {
      const rows = readTokens(dataDir);
      for (const id of created) {
        if (!rows.has(id)) {
          lost++;
          lostDetail.push(`${when}: acknowledged create ${id} missing`);
        }
      }
      for (const id of revoked) {
        if (rows.get(id)?.revoked_at == null) {
          lost++;
          lostDetail.push(`${when}: acknowledged revoke ${id} not revoked`);
        }
      }
    };

    for (let round = 1; round <= rounds; round++) {
      const t0 = Date.now();
      const server = await startServe(dataDir, { port, logFile });
      startTimes.push(Date.now() - t0);
      restarts++;
      check(`after restart ${round}`);
      const active = [...created].filter((id) => !revoked.has(id));
      const count = 1 + Math.floor(random() * 3);
      const ops = Array.from({ length: count }, (_, i) => {
        if (active.length > 0 && random() < 0.45) {
          const id = active.splice(Math.floor(random() * active.length), 1)[0]!;
          return { kind: 'revoke' as const, id, path: `/v1/apps/default/tokens/${id}/revoke`, body: '{}' };
        }
        return { kind: 'create' as const, id: '', path: '/v1/apps/default/tokens', body: JSON.stringify({ name: `crash ${round}.${i}`, expires_in: '30d' }) };
      });
      let killed = false;
      const kill = () => {
        if (killed) return;
        killed = true;
        process.kill(server.pid, 'SIGKILL');
      };
      const answers = ops.map((op) =>
        request(port, {
          method: 'POST',
          path: op.path,
          headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
          body: op.body,
          timeoutMs: 15_000,
        }).then(
          (answer) => {
            // The acknowledgement is a complete 2xx answer; kill at once, before anything else.
            kill();
            if (answer.status === 201 && op.kind === 'create') {
              created.add(JSON.parse(answer.body).token.id);
              acknowledged++;
            } else if (answer.status === 200 && op.kind === 'revoke') {
              revoked.add(op.id);
              acknowledged++;
            } else {
              report.failures.push(`round ${round}: ${op.kind} answered ${answer.status} ${answer.body.slice(0, 200)}`);
            }
            return true;
          },
          () => {
            inFlightAtKill++;
            return false;
          },
        ),
      );
      await Promise.all(answers);
      kill();
      await server.stop();
    }
    const server = await startServe(dataDir, { port, logFile });
    check('final restart');
    await server.stop();
    // And through the CLI, as an operator would look.
    const listed = await runCliAsync(['tokens', 'list', '--app', 'default', '--json'], { dataDir });
    const byId = new Map<string, { status: string }>(
      (JSON.parse(listed.stdout).tokens as Array<{ id: string; status: string }>).map((t) => [t.id, t]),
    );
    let cliMismatch = 0;
    for (const id of created) {
      const token = byId.get(id);
      if (!token || (revoked.has(id) ? token.status !== 'revoked' : token.status === 'revoked')) cliMismatch++;
    }

    figure(report, 'rounds (kill -9 each)', rounds);
    figure(report, 'restarts', restarts);
    figure(report, 'acknowledged changes', `${acknowledged} (${created.size} creates, ${revoked.size} revokes)`);
    figure(report, 'requests in flight at a kill (unacknowledged)', inFlightAtKill);
    figure(report, 'acknowledged changes lost', lost);
    figure(report, 'CLI list disagreeing with acknowledged state', cliMismatch);
    figure(report, 'start → healthy, median', `${startTimes.sort((a, b) => a - b)[Math.floor(startTimes.length / 2)]} ms`);
    figure(report, 'seed', seed);
    promise(report, lost === 0, `${lost} acknowledged changes lost: ${lostDetail.slice(0, 5).join('; ')}`);
    promise(report, listed.code === 0 && cliMismatch === 0, `the CLI listing disagrees with acknowledged changes (${cliMismatch}; exit ${listed.code})`);
    promise(report, acknowledged >= rounds, `only ${acknowledged} changes acknowledged in ${rounds} rounds`);
    return report;
  } finally {
    killAll();
    await sleep(100);
    tmp.cleanup();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) runAsScript(crash, killAll);
