import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BUILD_TIMEOUT_MS, ensureBinary, sandbox, startServer, type RunningServer, type Sandbox } from '../binary/helpers/binary';
import { REPO_ROOT } from '../helpers/cli';

/*
 * The README's examples, run as written (issue 10). The convention: every ```sh block in the README
 * is preceded by a marker line,
 *   <!-- example: NAME -->          run by this test, which checks what NAME must print or leave, or
 *   <!-- example-skip: REASON -->   not run here (REASON says where it is tested instead).
 * The examples run in order, each in `bash -euo pipefail`, in an empty directory, against a server
 * of the built executable (`dist/mechamental`, on PATH as `mechamental`) with MM_DATA_DIR and
 * MM_PORT set to that server's, so that the CLI and the server share the data; shell variables an
 * example assigns (TOKEN=…) are carried to the next ones. The one rewrite: `http://127.0.0.1:8080`
 * becomes the test server's address. Blocks that use `npm run` run in the checkout. Comment lines
 * (`# …`) after a command are its documented output: they must appear in the real output, in
 * order, `…` standing for anything.
 */

const README = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
const DOCUMENTED_URL = 'http://127.0.0.1:8080';

interface Example {
  name: string | null;
  skip: string | null;
  code: string;
}

function examples(): Example[] {
  const found: Example[] = [];
  const lines = README.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '```sh') continue;
    const end = lines.indexOf('```', i + 1);
    const marker = lines.slice(0, i).reverse().find((line) => line.trim() !== '') ?? '';
    const name = /^<!-- example: ([a-z0-9-]+) -->$/.exec(marker)?.[1] ?? null;
    const skip = /^<!-- example-skip: (.+) -->$/.exec(marker)?.[1] ?? null;
    found.push({ name, skip, code: lines.slice(i + 1, end).join('\n') });
    i = end;
  }
  return found;
}

/** The documented output of a block: its comment-only lines, as an in-order pattern. */
function documentedOutput(code: string): RegExp | null {
  const expected = code
    .split('\n')
    .filter((line) => /^# \S/.test(line))
    .map((line) => line.slice(2))
    .filter((line) => line !== '…');
  if (expected.length === 0) return null;
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(expected.map((line) => line.split('…').map(escape).join('[^\\n]*?')).join('[\\s\\S]*?'));
}

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
  vars: Record<string, string>;
}

let box: Sandbox;
let server: RunningServer;
let binDir: string;
const outcomes = new Map<string, Outcome>();

/** Each marked example's checks, given what it printed and the variables it left. */
const CHECKS: Record<string, (outcome: Outcome) => void> = {
  'first-token': ({ stdout, vars }) => {
    assert.match(vars.TOKEN ?? '', /^mm_tok_[A-Za-z0-9]{36}$/, 'TOKEN holds the value, and nothing else');
    assert.match(stdout, /CI\/CD Pipeline/, 'the list shows the token');
    assert.ok(!stdout.includes(vars.TOKEN!), 'the list never shows a value');
  },
  'first-token-dev': ({ stdout, vars }) => {
    assert.match(vars.DEV_TOKEN ?? '', /^mm_tok_[A-Za-z0-9]{36}$/, 'npm run -s captures only the value');
    assert.equal(stdout, '');
  },
  trigger: ({ stdout }) => {
    assert.match(stdout, /"output":"Hello, how can I reset my password\?"/);
    assert.match(stdout, /event: run\.completed\ndata: \{"run_id":"run_[0-9a-f]{24}","output":"Summarize the Q3 report"\}/);
  },
  'self-service': ({ stdout, vars }) => {
    const { token } = JSON.parse(stdout) as { token: { name: string; status: string } };
    assert.equal(token.name, 'CI/CD Pipeline');
    assert.equal(token.status, 'active');
    assert.ok(!stdout.includes(vars.TOKEN!));
  },
  openapi: () => {
    const doc = JSON.parse(fs.readFileSync(path.join(box.dir, 'openapi.json'), 'utf8')) as { openapi: string; paths: Record<string, unknown> };
    assert.equal(doc.openapi, '3.1.0');
    assert.ok(doc.paths['/v1/trigger/{pipeline}'] && doc.paths['/v1/apps/{app}/tokens']);
  },
  'admin-api': ({ stdout, vars }) => {
    assert.match(vars.ADMIN ?? '', /^mm_adm_[A-Za-z0-9]{36}$/);
    assert.match(stdout, /\{"apps":\[\{"slug":"default"/);
    assert.match(stdout, /"name":"Mobile App Backend"[\s\S]*"value":"mm_tok_/);
  },
  console: ({ stdout }) => {
    assert.match(stdout, new RegExp(`^http://127\\.0\\.0\\.1:${server.port}/console/#/sign-in\\?code=\\S+\\n$`));
  },
  backup: () => {
    const file = path.join(box.dir, `mechamental-${new Date().toISOString().slice(0, 10)}.db`);
    assert.equal(fs.readFileSync(file).subarray(0, 15).toString(), 'SQLite format 3');
  },
  health: ({ stdout }) => assert.equal(stdout, '{"status":"ok"}'),
};

describe('the README', () => {
  test('keeps to an operator and an integrator: under 250 lines, the two commands, the pointers', () => {
    assert.ok(README.split('\n').length <= 250, `${README.split('\n').length} lines`);
    const blocks = examples().map((e) => e.code);
    assert.ok(blocks.includes('npm ci && npm start'), 'npm ci && npm start');
    assert.ok(blocks.includes('npm test'), 'npm test');
    assert.match(README, /tests[^.]*several minutes[^.]*dist\/mechamental[^.]*\n+<!-- example-skip[^\n]*\n```sh\nnpm test\n/, 'says that npm test takes several minutes and builds dist/');
    assert.match(README, /npm run -s mm --/);
    for (const doc of ['docs/openai.md', 'docs/growth.md', 'docs/operations.md', 'docs/configuration.md', 'docs/internals.md', 'docs/benchmarks.md', 'docs/runs.md', 'docs/scaling.md']) {
      assert.ok(README.includes(`](${doc})`), `links ${doc}`);
    }
  });

  test('every relative link points at a file that exists (docs/openai.md and docs/growth.md: once merged)', () => {
    const pending = new Set(['docs/openai.md', 'docs/growth.md']);
    for (const file of ['README.md', ...fs.readdirSync(path.join(REPO_ROOT, 'docs')).map((f) => `docs/${f}`)]) {
      const text = fs.readFileSync(path.join(REPO_ROOT, file), 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)#\s]+\.md)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        const resolved = path.relative(REPO_ROOT, path.resolve(path.dirname(path.join(REPO_ROOT, file)), target!));
        if (pending.has(resolved)) continue;
        assert.ok(fs.existsSync(path.join(REPO_ROOT, resolved)), `${file} links ${target}, which does not exist`);
      }
    }
  });

  test('every sh block is marked, and every marked example has its checks', () => {
    const all = examples();
    assert.deepEqual(all.filter((e) => e.name === null && e.skip === null).map((e) => e.code.split('\n')[0]), [], 'unmarked blocks');
    const names = all.flatMap((e) => (e.name ? [e.name] : []));
    assert.deepEqual(names.filter((n) => !(n in CHECKS)), [], 'examples without checks');
    assert.deepEqual(Object.keys(CHECKS).filter((n) => !names.includes(n)), [], 'checks without examples');
  });
});

describe('the README examples, run as written', () => {
  before(
    async () => {
      const binary = ensureBinary();
      box = sandbox();
      binDir = path.join(box.dir, '.bin');
      fs.mkdirSync(binDir);
      fs.symlinkSync(binary, path.join(binDir, 'mechamental'));
      box.env.MM_DATA_DIR = box.dataDir;
      box.env.PATH = `${binDir}:${process.env.PATH ?? '/usr/bin:/bin'}`;
      box.env.HOME = process.env.HOME ?? box.dir;
      server = await startServer(box);
      box.env.MM_PORT = String(server.port);
    },
    { timeout: BUILD_TIMEOUT_MS },
  );
  after(() => server?.stop());

  test('each runs, exits 0, prints what the README says, and passes its checks', { timeout: 5 * 60_000 }, () => {
    const state = path.join(box.dir, '.example-vars');
    const assigned = new Set<string>();
    for (const example of examples()) {
      if (example.name === null) continue;
      const code = example.code.replaceAll(DOCUMENTED_URL, server.url);
      for (const [, name] of code.matchAll(/^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=/gm)) assigned.add(name!);
      const script = [
        `[ -f '${state}' ] && source '${state}'`,
        code,
        assigned.size > 0 ? `declare -p ${[...assigned].join(' ')} > '${state}'` : '',
        // What the last command left, for the variables the checks read.
        `for v in ${[...assigned].join(' ')}; do printf '%s=%s\\n' "$v" "\${!v-}"; done > '${state}.txt'`,
      ].join('\n');
      const cwd = /\bnpm run\b/.test(code) ? REPO_ROOT : box.dir;
      const result = spawnSync('bash', ['-euo', 'pipefail', '-c', script], { cwd, env: box.env, encoding: 'utf8', timeout: 120_000 });
      const vars = Object.fromEntries(
        (fs.existsSync(`${state}.txt`) ? fs.readFileSync(`${state}.txt`, 'utf8') : '')
          .split('\n')
          .filter(Boolean)
          .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
      );
      const outcome: Outcome = { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr, vars };
      outcomes.set(example.name, outcome);
      assert.equal(outcome.code, 0, `example ${example.name} exited ${outcome.code}:\n${code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
      const documented = documentedOutput(example.code);
      if (documented) assert.match(outcome.stdout, documented, `example ${example.name}: the output the README shows`);
      CHECKS[example.name]!(outcome);
    }
  });
});
