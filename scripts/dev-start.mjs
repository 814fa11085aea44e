// `npm start`: the webhook with laptop defaults. Real deployments set these env vars (Helm
// chart); here any that are unset get a development value, and we say so.
import { spawn } from 'node:child_process';

const devDefaults = {
  FETCHER_IMAGE: 'dap-secret-fetcher:dev',
  MLP_API_HOST: 'http://127.0.0.1:8081',
  WEBHOOK_HOST: '127.0.0.1',
  // A laptop's ~/.kube/config may point at a real cluster: never register a failurePolicy=Fail
  // webhook there from a development run.
  WEBHOOK_REGISTER: 'false',
};
const env = { ...process.env };
for (const [name, value] of Object.entries(devDefaults)) {
  if (!env[name]) {
    env[name] = value;
    process.stderr.write(`npm start: ${name} not set, using the development value ${value}\n`);
  }
}
const child = spawn(process.execPath, ['dist/webhook/dap-secret-webhook.mjs', 'serve'], { env, stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
