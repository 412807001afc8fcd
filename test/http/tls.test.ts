import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { describe, test } from 'node:test';
import { AppError } from '../../src/errors';
import { loadTlsMaterial } from '../../src/http/tls';
import { runCliAsync } from '../helpers/cli';
import { tempDataDir, tempDir } from '../helpers/data-dir';
import { eventually, spawnServe, startTestServer } from '../helpers/server';
import { rawExchange, statusOf } from './helpers/raw-http';

interface CertFiles {
  cert: string;
  key: string;
}

/** A self-signed certificate for localhost and 127.0.0.1 whose subject CN is `name` (openssl). */
function makeCert(dir: string, name: string, extra: string[] = []): CertFiles {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`, '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', ...(extra.length ? extra : ['-nodes'])],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

/** GET /healthz over HTTPS; answers the status and the CN of the certificate the server presented. */
function probe(url: string, options: { ca?: Buffer } = {}): Promise<{ status: number; cn: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(`${url}/healthz`, { agent: false, ...(options.ca ? { ca: options.ca, servername: 'localhost' } : { rejectUnauthorized: false }) }, (res) => {
      const cn = String((res.socket as import('node:tls').TLSSocket).getPeerCertificate().subject?.CN ?? '');
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, cn }));
    });
    req.on('error', reject);
  });
}

describe('HTTPS without a proxy: --tls-cert/--tls-key, reloaded on SIGHUP', () => {
  test('serve speaks HTTPS on its port; plain HTTP gets no answer; healthcheck works with TLS; SIGHUP loads new files; a bad file on reload keeps the old ones and logs an error', async () => {
    const dir = tempDir();
    const first = makeCert(dir, 'first');
    const live: CertFiles = { cert: path.join(dir, 'live.crt'), key: path.join(dir, 'live.key') };
    fs.copyFileSync(first.cert, live.cert);
    fs.copyFileSync(first.key, live.key);

    const serve = await spawnServe(tempDataDir(), ['--port', '0', '--tls-cert', live.cert, '--tls-key', live.key]);
    assert.match(serve.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const port = Number(new URL(serve.url).port);
    // A client that verifies: the certificate is the one given.
    assert.deepEqual(await probe(serve.url, { ca: fs.readFileSync(first.cert) }), { status: 200, cn: 'first' });
    const plain = await rawExchange(port, `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`, { timeoutMs: 5_000 });
    assert.equal(statusOf(plain.text), 0, 'plain HTTP is not answered as HTTP');
    assert.ok(plain.closedByServer);

    const byEnv = await runCliAsync(['healthcheck', '--port', String(port)], { env: { MM_TLS_CERT: live.cert, MM_TLS_KEY: live.key } });
    assert.equal(byEnv.code, 0, byEnv.stderr);
    assert.match(byEnv.stdout, /^healthy: https:\/\/127\.0\.0\.1:\d+\/healthz answered 200/);
    const byFlag = await runCliAsync(['healthcheck', '--port', String(port), '--tls']);
    assert.equal(byFlag.code, 0, byFlag.stderr);
    const plainProbe = await runCliAsync(['healthcheck', '--port', String(port)]);
    assert.equal(plainProbe.code, 1, 'a plain-HTTP probe of an HTTPS server is unhealthy');
    assert.equal(plainProbe.stderr.trim().split('\n').length, 1, plainProbe.stderr);

    // New files, then SIGHUP: new connections get the new certificate.
    const second = makeCert(dir, 'second');
    fs.copyFileSync(second.cert, live.cert);
    fs.copyFileSync(second.key, live.key);
    serve.child.kill('SIGHUP');
    await eventually(async () => (await probe(serve.url)).cn === 'second', 5_000, 'the new certificate');
    await eventually(() => /"msg":"TLS certificate reloaded"/.test(serve.stdout()), 5_000, 'the reload to be logged'); // the log is written asynchronously

    // A broken certificate, then a key of another certificate: each reload fails, the old pair stays, the server lives on.
    for (const [file, content, count] of [
      [live.cert, 'not a certificate\n', 1],
      [live.key, fs.readFileSync(first.key, 'utf8'), 2],
    ] as const) {
      if (file === live.key) fs.copyFileSync(second.cert, live.cert);
      fs.writeFileSync(file, content);
      serve.child.kill('SIGHUP');
      await eventually(() => (serve.stdout().match(/TLS reload failed: the previous certificate stays in use/g)?.length ?? 0) >= count, 5_000, 'the reload error in the log');
      assert.deepEqual(await probe(serve.url), { status: 200, cn: 'second' });
    }
    assert.match(serve.stdout(), /"level":"error".*is not a PEM certificate.*TLS reload failed/);
    assert.match(serve.stdout(), /does not belong to the certificate/);
    assert.ok(!serve.stdout().includes('PRIVATE KEY'), 'no key material in the log');

    serve.child.kill('SIGTERM');
    assert.deepEqual(await serve.exited, { code: 0, signal: null }, serve.stderr());
  });

  test('beyond loopback, both listeners speak HTTPS and a reload reaches both', async () => {
    const dir = tempDir();
    const first = makeCert(dir, 'first');
    const live: CertFiles = { cert: path.join(dir, 'live.crt'), key: path.join(dir, 'live.key') };
    fs.copyFileSync(first.cert, live.cert);
    fs.copyFileSync(first.key, live.key);
    const t = await startTestServer({ env: { MM_TLS_CERT: live.cert, MM_TLS_KEY: live.key }, server: { host: '0.0.0.0' } });
    const main = `https://127.0.0.1:${t.server.port}`;
    assert.match(t.server.adminUrl, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.equal((await probe(main)).cn, 'first');
    const second = makeCert(dir, 'second');
    fs.copyFileSync(second.cert, live.cert);
    fs.copyFileSync(second.key, live.key);
    assert.equal(t.server.reloadTls(), true);
    assert.equal((await probe(main)).cn, 'second');
    const admin = await new Promise<string>((resolve, reject) => {
      https
        .get(`${t.server.adminUrl}/v1/apps`, { agent: false, rejectUnauthorized: false }, (res) => {
          resolve(String((res.socket as import('node:tls').TLSSocket).getPeerCertificate().subject?.CN));
          res.resume();
        })
        .on('error', reject);
    });
    assert.equal(admin, 'second');
  });

  test('loadTlsMaterial: an unreadable or invalid file is one line that names it and says what is wrong', async () => {
    const dir = tempDir();
    const good = makeCert(dir, 'good');
    const other = makeCert(dir, 'other');
    const encrypted = makeCert(dir, 'locked', ['-passout', 'pass:secret']);
    const garbage = path.join(dir, 'garbage.pem');
    fs.writeFileSync(garbage, '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n');
    const material = loadTlsMaterial(good.cert, good.key);
    assert.match(material.subject, /CN=good/);
    assert.ok(material.validToMs > Date.now());
    const cases: Array<[string, string, RegExp]> = [
      [path.join(dir, 'missing.crt'), good.key, /^cannot read the TLS certificate .*missing\.crt \(--tls-cert, MM_TLS_CERT\): no such file$/],
      [good.cert, dir, /^cannot read the TLS key .* \(--tls-key, MM_TLS_KEY\): it is a directory$/],
      [garbage, good.key, /^the TLS certificate .*garbage\.pem is not a PEM certificate/],
      [good.key, good.key, /^the TLS certificate .*good\.key is not a PEM certificate/],
      [good.cert, garbage, /^the TLS key .*garbage\.pem is not a PEM private key/],
      [good.cert, good.cert, /^the TLS key .*good\.crt is not a PEM private key/],
      [good.cert, other.key, /^the TLS key .*other\.key does not belong to the certificate .*good\.crt$/],
      [encrypted.cert, encrypted.key, /^the TLS key .*locked\.key is encrypted; give an unencrypted key/],
    ];
    for (const [cert, key, message] of cases) {
      assert.throws(
        () => loadTlsMaterial(cert, key),
        (error: unknown) => error instanceof AppError && message.test(error.message) && !error.message.includes('\n') && !error.message.includes('secret'),
        `${cert} + ${key}`,
      );
    }
  });

  test('serve at start: --tls-cert without --tls-key is a usage error (2); a bad file is one clear line and exit 1, before the data directory is touched', async () => {
    const dir = tempDir();
    const good = makeCert(dir, 'good');
    const cases: Array<[string[], NodeJS.ProcessEnv, number, RegExp]> = [
      [['--tls-cert', good.cert], { MM_TLS_KEY: '' }, 2, /^mechamental: invalid configuration: --tls-cert and --tls-key \(MM_TLS_CERT, MM_TLS_KEY\) go together/],
      [['--tls-cert', path.join(dir, 'missing.crt'), '--tls-key', good.key], {}, 1, /^mechamental: cannot read the TLS certificate .*missing\.crt \(--tls-cert, MM_TLS_CERT\): no such file$/],
    ];
    for (const [args, env, code, message] of cases) {
      const dataDir = tempDataDir();
      const result = await runCliAsync(['serve', '--port', '0', ...args], { dataDir, env });
      assert.equal(result.code, code, `${args.join(' ')}: ${result.stderr}`);
      const lines = result.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, result.stderr);
      assert.match(lines[0]!, message);
      assert.ok(!fs.existsSync(dataDir), 'the data directory was not created');
    }
  });
});
