// Concurrency: the server under trigger load (autocannon) and admin API writes, while two CLI
// processes create, revoke and refresh tokens in a loop on the same database file. Promises: no
// error reaches a user (every CLI exits 0 with no SQLITE_BUSY / "database is locked" on stderr,
// no 5xx and no connection error from the server), no SQLITE_BUSY in the server log, and the final
// state equals the acknowledged operations (creates present, revokes revoked, each token's expiry
// equal to its last acknowledged refresh). Run alone: node --import tsx test/reliability/concurrency.ts
import autocannon from 'autocannon';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatTime } from '../../src/clock';
import { runCliAsync, type CliResult } from '../helpers/cli';
import { freePort, killAll, sleep } from '../bench/lib/proc';
import { makeTempDir, startServe, withServices } from '../bench/lib/servers';
import { api } from './lib/http';
import { figure, newReport, promise, readTokens, runAsScript, scanLog, type Report } from './lib/report';

interface Expected {
  revoked: boolean;
  expiresAt: string;
}

export async function concurrency(): Promise<Report> {
  const report = newReport('concurrency (server under load + two CLI writers)');
  const opsPerLoop = Number(process.env.CONCURRENCY_OPS ?? 24);
  const tmp = makeTempDir('mm-conc-');
  const dataDir = path.join(tmp.dir, 'data');
  const logFile = path.join(tmp.dir, 'server.log');
  try {
    const { trigger, admin } = await withServices(dataDir, async (s) => ({
      trigger: (await s.tokens.create({ app: 'default', name: 'load', expires: '1d' }, 'cli')).value,
      admin: (await s.tokens.createAdmin({ name: 'concurrency harness', expires: '1d' }, 'cli')).value,
    }));
    const port = await freePort();
    const server = await startServe(dataDir, { port, logFile });
    const expected = new Map<string, Expected>();
    const cliFailures: string[] = [];
    let cliRuns = 0;
    let apiOps = 0;
    let api5xx = 0;
    const apiUnexpected: string[] = [];
    let stop = false;

    const cli = async (args: string[]): Promise<CliResult> => {
      const result = await runCliAsync(args, { dataDir });
      cliRuns++;
      if (result.code !== 0 || /SQLITE_BUSY|database is locked/i.test(result.stderr)) {
        cliFailures.push(`${args.slice(0, 2).join(' ')} → exit ${result.code}: ${result.stderr.trim().slice(0, 300)}`);
      }
      return result;
    };

    // One CLI writer: create, then refresh and revoke among its own tokens.
    const cliLoop = async (name: string) => {
      const mine: string[] = [];
      let days = 10;
      for (let i = 0; i < opsPerLoop; i++) {
        const step = i % 3;
        if (step === 0 || mine.length === 0) {
          const r = await cli(['tokens', 'create', '--app', 'default', '--name', `${name} ${i}`, '--expires', '10d', '--json']);
          if (r.code === 0) {
            const token = JSON.parse(r.stdout).token as { id: string; expires_at: string };
            mine.push(token.id);
            expected.set(token.id, { revoked: false, expiresAt: token.expires_at });
          }
        } else if (step === 1) {
          const id = mine[mine.length - 1]!;
          days++;
          const r = await cli(['tokens', 'refresh', id, '--expires', `${days}d`, '--json']);
          if (r.code === 0) expected.set(id, { revoked: false, expiresAt: (JSON.parse(r.stdout).token as { expires_at: string }).expires_at });
        } else {
          const id = mine.shift()!;
          const r = await cli(['tokens', 'revoke', id, '--json']);
          if (r.code === 0) expected.set(id, { ...expected.get(id)!, revoked: true });
        }
      }
    };

    // Admin API writes inside the server process, competing for the write lock.
    const apiLoop = async () => {
      const mine: string[] = [];
      while (!stop) {
        const create = mine.length === 0 || apiOps % 2 === 0;
        const answer = create
          ? await api(port, 'POST', '/v1/apps/default/tokens', admin, { name: `api ${apiOps}`, expires_in: '10d' })
          : await api(port, 'POST', `/v1/apps/default/tokens/${mine.shift()}/revoke`, admin, {});
        apiOps++;
        if (answer.status >= 500) api5xx++;
        if (create && answer.status === 201) {
          mine.push(answer.json.token.id);
          expected.set(answer.json.token.id, { revoked: false, expiresAt: answer.json.token.expires_at });
        } else if (!create && answer.status === 200) {
          expected.set(answer.json.token.id, { ...expected.get(answer.json.token.id)!, revoked: true });
        } else {
          apiUnexpected.push(`${answer.status} ${answer.body.slice(0, 200)}`);
        }
        await sleep(20);
      }
    };

    const load = autocannon({
      url: `http://127.0.0.1:${port}/v1/trigger/chat`,
      method: 'POST',
      connections: 8,
      duration: 600,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${trigger}` },
      body: JSON.stringify({ message: 'load while the CLI writes' }),
    });
    const started = Date.now();
    const deadline = setTimeout(() => (stop = true), Number(process.env.CONCURRENCY_MAX_SECONDS ?? 150) * 1000);
    const apiDone = apiLoop();
    await Promise.all([cliLoop('cli A'), cliLoop('cli B')]);
    stop = true;
    clearTimeout(deadline);
    await apiDone;
    load.stop();
    const result = await load;
    const seconds = (Date.now() - started) / 1000;
    await server.stop();

    // Final state, straight from the file.
    const rows = readTokens(dataDir);
    let mismatches = 0;
    const mismatchDetail: string[] = [];
    for (const [id, want] of expected) {
      const row = rows.get(id);
      const ok = row && (row.revoked_at !== null) === want.revoked && formatTime(row.expires_at) === want.expiresAt;
      if (!ok) {
        mismatches++;
        mismatchDetail.push(`${id}: want ${JSON.stringify(want)}, have ${JSON.stringify(row)}`);
      }
    }
    const log = scanLog(logFile);
    const fiveXX = result['5xx'];

    figure(report, 'duration', `${seconds.toFixed(1)} s`);
    figure(report, 'trigger requests under load', `${result['2xx'] + result.non2xx} (${result['2xx']} × 200, non-2xx ${result.non2xx}, 5xx ${fiveXX}, connection errors ${result.errors})`);
    figure(report, 'CLI processes run', `${cliRuns} (failed ${cliFailures.length})`);
    figure(report, 'admin API writes', `${apiOps} (5xx ${api5xx}, unexpected ${apiUnexpected.length})`);
    figure(report, 'tokens tracked / final state mismatches', `${expected.size} / ${mismatches}`);
    figure(report, 'server log: errors / SQLITE_BUSY mentions', `${log.errors.length} / ${log.busy}`);
    promise(report, cliFailures.length === 0, `CLI failures: ${cliFailures.slice(0, 3).join(' | ')}`);
    promise(report, fiveXX === 0 && result.errors === 0 && result.non2xx === 0, `trigger load saw ${result.non2xx} non-2xx (${fiveXX} 5xx) and ${result.errors} errors: ${JSON.stringify(result.statusCodeStats)}`);
    promise(report, api5xx === 0 && apiUnexpected.length === 0, `admin API: ${api5xx} 5xx, unexpected: ${apiUnexpected.slice(0, 3).join(' | ')}`);
    promise(report, mismatches === 0, `final state differs from acknowledged operations: ${mismatchDetail.slice(0, 3).join(' | ')}`);
    promise(report, log.busy === 0 && log.errors.length === 0, `server log: ${log.busy} SQLITE_BUSY, errors: ${log.errors.slice(0, 2).join(' | ')}`);
    return report;
  } finally {
    killAll();
    await sleep(100);
    tmp.cleanup();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) runAsScript(concurrency, killAll);
