// `npm start`: builds the webhook, then runs it with laptop defaults. Real deployments set the env
// vars (Helm chart); here any that are unset get a development value, and we say so
// (webhook/dev-defaults.ts, loaded with Node's own type stripping).
//
// The server runs in this very process (the built bundle, imported), not as a child, and
// package.json `exec`s it in place of npm's shell: npm forwards SIGTERM/SIGINT straight to it, and
// it drains and exits. Should npm itself die without forwarding (SIGKILL), we notice the new
// parent and stop the same way: `npm start` leaves no orphan listening on the ports.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SERVE_DEV_DEFAULTS, withDevDefaults } from '../webhook/dev-defaults.ts';

const built = spawnSync(process.execPath, ['scripts/build-webhook.mjs'], { stdio: 'inherit' });
if (built.status !== 0) process.exit(built.status ?? 1);

const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.kill(process.pid, 'SIGTERM');
}, 500).unref();

const { env, notes } = withDevDefaults(process.env, SERVE_DEV_DEFAULTS, 'npm start');
for (const note of notes) process.stderr.write(`${note}\n`);
Object.assign(process.env, env);
// The bundle runs its CLI when argv[1] names it: make this process look like `dap-secret-webhook.mjs serve`.
const bundle = resolve('dist/webhook/dap-secret-webhook.mjs');
process.argv = [process.execPath, bundle, 'serve'];
await import(pathToFileURL(bundle).href);
