/**
 * `serve` as a process of its own with ServeOptions from argv[2] (JSON), for lifecycle tests that
 * need an option the CLI does not expose (a drain delay long enough that no test races it).
 * Signals are handled by serve() exactly as under `dap-secret-webhook serve`.
 */
import { type ServeOptions, serve } from '../../../webhook/server/serve.js';

try {
  await serve(process.env, JSON.parse(process.argv[2] ?? '{}') as ServeOptions);
} catch (err) {
  process.stderr.write(`serve-process: ${(err as Error).message}\n`);
  process.exit(1);
}
