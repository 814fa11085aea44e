/** One run of the fetcher with the process's argv, env and stdio; exits with its code. */
import { main } from './main.js';

export function start(): void {
  // Logs are best-effort: a reader that went away (EPIPE, e.g. `--help | head -1`) must not turn
  // into an unhandled 'error' that kills a run, or its exit code. Other write errors still surface.
  for (const stream of [process.stdout, process.stderr])
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
    });
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
