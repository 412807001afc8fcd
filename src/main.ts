import { runCli } from './cli/index';

// argv → cli; nothing else.
runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`mechamental: ${(error as Error).message}\n`);
    process.exitCode = 1;
  },
);
