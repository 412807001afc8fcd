// Imported first by no-color.test.tsx: Ink's chalk decides its colour level when it loads, and
// under the test runner (no TTY) it would choose none, which would make a NO_COLOR check vacuous.
process.env.FORCE_COLOR = '3';
