import { createPrivateKey, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import tls from 'node:tls';
import { AppError } from '../errors';

/** A certificate and its key, read and checked together; what `https.createServer` and `setSecureContext` take. */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  certFile: string;
  keyFile: string;
  /** The certificate's subject and end of validity, for the log. */
  subject: string;
  validTo: string;
  /** The end of validity in epoch ms (to warn about an expired certificate). */
  validToMs: number;
}

function readError(what: string, file: string, setting: string, error: unknown): AppError {
  const code = (error as NodeJS.ErrnoException).code;
  const why =
    code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : ((error as Error).message.split('\n')[0] ?? String(error));
  return new AppError('io_error', `cannot read the TLS ${what} ${file} (${setting}): ${why}`);
}

function firstLine(error: unknown): string {
  return ((error as Error).message ?? String(error)).split('\n')[0]!;
}

/**
 * Reads and checks a PEM certificate (a chain may follow it) and its PEM private key. Throws an
 * AppError whose one-line message names the file and what is wrong with it: unreadable, not a
 * certificate, not a key, an encrypted key (no passphrase is supported), or a key that does not
 * belong to the certificate. Never logs or returns key material in a message.
 */
export function loadTlsMaterial(certFile: string, keyFile: string): TlsMaterial {
  let cert: Buffer;
  let key: Buffer;
  try {
    cert = fs.readFileSync(certFile);
  } catch (error) {
    throw readError('certificate', certFile, '--tls-cert, MM_TLS_CERT', error);
  }
  try {
    key = fs.readFileSync(keyFile);
  } catch (error) {
    throw readError('key', keyFile, '--tls-key, MM_TLS_KEY', error);
  }
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw new AppError('io_error', `the TLS certificate ${certFile} is not a PEM certificate (it should begin with "-----BEGIN CERTIFICATE-----")`);
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // OpenSSL 3 reports a missing passphrase as "interrupted or cancelled"; the PEM says it plainly.
    const text = key.toString('latin1');
    if (code === 'ERR_MISSING_PASSPHRASE' || text.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----') || text.includes('Proc-Type: 4,ENCRYPTED')) {
      throw new AppError('io_error', `the TLS key ${keyFile} is encrypted; give an unencrypted key (e.g. \`openssl pkey -in ${keyFile} -out plain.key\`, then keep it at mode 0600)`);
    }
    throw new AppError('io_error', `the TLS key ${keyFile} is not a PEM private key (such as \`openssl genpkey\` writes)`);
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw new AppError('io_error', `the TLS key ${keyFile} does not belong to the certificate ${certFile}`);
  }
  try {
    tls.createSecureContext({ cert, key });
  } catch (error) {
    throw new AppError('io_error', `the TLS certificate ${certFile} and key ${keyFile} cannot be used: ${firstLine(error)}`);
  }
  const validToMs = Date.parse(x509.validTo);
  return { cert, key, certFile, keyFile, subject: x509.subject.replace(/\n/g, ', '), validTo: x509.validTo, validToMs };
}
