import http from 'node:http';
import https from 'node:https';
import { AppError } from '../errors';
import type { Command } from './context';

/** How long the probe waits for the whole answer; container health checks run it often. */
export const HEALTHCHECK_TIMEOUT_MS = 3_000;

/**
 * The address to probe for a listen address: a wildcard listener is reached on loopback.
 * IPv6 literals get their brackets for the URL.
 */
export function probeHost(listenHost: string): string {
  if (listenHost === '0.0.0.0' || listenHost === '') return '127.0.0.1';
  if (listenHost === '::' || listenHost === '[::]') return '[::1]';
  if (listenHost.includes(':') && !listenHost.startsWith('[')) return `[${listenHost}]`;
  return listenHost;
}

/**
 * GET `url`; resolves with the status, rejects with a one-line reason. Over HTTPS the certificate
 * is not verified: this probe asks the server on this machine whether it is alive, it sends no
 * secret, and the certificate names the public host, not the address probed (often loopback).
 */
function probe(url: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const client = url.startsWith('https:') ? https : http;
    const request = client.get(url, { timeout: timeoutMs, headers: { 'user-agent': 'mechamental-healthcheck' }, rejectUnauthorized: false }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
      response.on('error', (error) => reject(error));
    });
    request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
    request.on('error', reject);
  });
}

function reason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ECONNREFUSED') return 'connection refused (is `mechamental serve` running there?)';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'the host name does not resolve';
  if (code === 'ECONNRESET') return 'the connection was reset';
  return (error as Error).message.split('\n')[0] ?? String(error);
}

export const healthcheckCommand: Command = {
  name: 'healthcheck',
  summary: 'exit 0 when the server answers /healthz (for container health checks)',
  usage: 'healthcheck [--host HOST] [--port PORT] [--tls]',
  help: [
    'Options:',
    '  --host HOST   where the server listens (env MM_HOST, default 127.0.0.1; 0.0.0.0 is probed on 127.0.0.1)',
    '  --port PORT   its port (env MM_PORT, default 8080)',
    '  --tls         probe over HTTPS (the default when MM_TLS_CERT is set, as in the server\'s own environment);',
    '                the certificate is not verified: this only asks whether the local server is alive',
    `Exit 0 when GET /healthz answers 200 within ${HEALTHCHECK_TIMEOUT_MS / 1000} s; otherwise exit 1 with the reason on one line.`,
  ].join('\n'),
  options: { host: { type: 'string' }, port: { type: 'string' }, tls: { type: 'boolean' } },
  async run(ctx) {
    const config = ctx.config({ host: ctx.string('host'), port: ctx.string('port') });
    const scheme = ctx.flag('tls') || config.tlsCertFile !== null ? 'https' : 'http';
    const url = `${scheme}://${probeHost(config.host)}:${config.port}/healthz`;
    const started = process.hrtime.bigint();
    let status: number;
    try {
      status = await probe(url, HEALTHCHECK_TIMEOUT_MS);
    } catch (error) {
      throw new AppError('io_error', `unhealthy: ${url}: ${reason(error)}`);
    }
    if (status !== 200) throw new AppError('io_error', `unhealthy: ${url} answered ${status}, not 200`);
    ctx.out(`healthy: ${url} answered 200 in ${(Number(process.hrtime.bigint() - started) / 1e6).toFixed(0)} ms`);
  },
};
