/** One run of the fetcher with the process's argv, env and stdio; exits with its code. */
import { main } from './main.js';

export function start(): void {
  void main(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr }).then(
    (code) => {
      // Exit now: a peer's keep-alive socket must not hold the init container open.
      process.exitCode = code;
      process.stdout.write('', () => process.exit(code));
    },
    (err: unknown) => {
      // main() reports its own failures; reaching this is a bug. Print no details: they might hold data.
      process.stderr.write(`dap-secret-fetcher: internal error (${err instanceof Error ? err.name : typeof err})\n`);
      process.exit(1);
    },
  );
}
