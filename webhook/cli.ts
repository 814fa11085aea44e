/**
 * dap-secret-webhook: `serve` (the admission server), `render` (a pod through the admission
 * code), `encode` / `decode` (one Flyte secret annotation), `certs` (TLS Secret management for
 * the Helm Job).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from './config.js';

export const VERSION = process.env.DAP_VERSION ?? '0.1.0';

const USAGE = `dap-secret-webhook ${VERSION}: gives Flyte task pods their CaraML MLP secrets.

Usage:
  dap-secret-webhook serve                       run the admission server (config from env vars; see README)
  dap-secret-webhook render [FILE|-] [--uid U] [--namespace NS] [-o json|yaml]
                                                 a Pod or AdmissionReview (JSON/YAML) through the admission code;
                                                 prints the mutated Pod (or the AdmissionReview response);
                                                 (admission warnings on stderr); exit 1 with the
                                                 denial message when the pod would be denied;
                                                 FETCHER_IMAGE and MLP_API_HOST get development values when unset
  dap-secret-webhook encode --key K [--group G] [--group-version V] [--mount ANY|ENV_VAR|FILE] [--env-var NAME]
                                                 the flyte.secrets/s<i> annotation value Flyte writes for that secret
  dap-secret-webhook decode VALUE                decode one flyte.secrets/s<i> annotation value
  dap-secret-webhook certs ensure ...            create or renew the webhook's TLS Secret (see 'certs --help')
  dap-secret-webhook unregister                  delete the MutatingWebhookConfiguration WEBHOOK_NAME (uninstall hook)
  dap-secret-webhook --version | --help
`;

type Io = { out: (s: string) => void; err: (s: string) => void; readInput: (file: string) => string };

const defaultIo: Io = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  readInput: (file) => readFileSync(file === '-' ? 0 : file, 'utf8'),
};

async function renderCommand(argv: string[], env: NodeJS.ProcessEnv, io: Io): Promise<number> {
  const { RenderInputError, render } = await import('./render.js');
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { uid: { type: 'string' }, namespace: { type: 'string' }, output: { type: 'string', short: 'o' } },
  });
  const output = values.output;
  if (output !== undefined && output !== 'json' && output !== 'yaml') {
    io.err(`render: -o must be json or yaml, not ${JSON.stringify(output)}\n`);
    return 2;
  }
  // Offline and without a deployment's env: the two required settings get development values.
  const { RENDER_DEV_DEFAULTS, withDevDefaults } = await import('./dev-defaults.js');
  const dev = withDevDefaults(env, RENDER_DEV_DEFAULTS, 'render');
  for (const note of dev.notes) io.err(`${note}\n`);
  const loaded = loadConfig(dev.env);
  if (!loaded.ok) {
    io.err(loaded.problems.map((p) => `config: ${p}\n`).join(''));
    return 2;
  }
  try {
    const rendered = render(io.readInput(positionals[0] ?? '-'), loaded.config.injection, {
      uid: values.uid,
      namespace: values.namespace,
      output,
    });
    if (rendered.denied !== null) {
      io.err(`denied: ${rendered.denied}\n`);
      return 1;
    }
    for (const warning of rendered.result.warnings) io.err(`warning: ${warning}\n`);
    io.out(rendered.text);
    return 0;
  } catch (err) {
    if (err instanceof RenderInputError) {
      io.err(`render: ${err.message}\n`);
      return 2;
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') {
      const why = { ENOENT: 'no such file', EACCES: 'permission denied', EISDIR: 'it is a directory' }[code];
      io.err(
        `render: cannot read ${positionals[0]}: ${why}; ` +
          `give a Pod or AdmissionReview file, or - for standard input\n`,
      );
      return 2;
    }
    throw err;
  }
}

async function decodeCommand(argv: string[], io: Io): Promise<number> {
  const { decodeSecretAnnotation, AnnotationError } = await import('./flyte/annotations.js');
  const { flytekitEnvName, flytekitRelativePath } = await import('./flyte/flytekit-names.js');
  if (argv.length !== 1) {
    io.err('usage: dap-secret-webhook decode VALUE\n');
    return 2;
  }
  try {
    const secret = decodeSecretAnnotation('flyte.secrets/s0', argv[0]!);
    const lookup = {
      env_var: flytekitEnvName(secret),
      file_path: ['/etc/flyte/secrets', ...flytekitRelativePath(secret)].join('/'),
    };
    io.out(`${JSON.stringify({ secret, flytekit_lookup: lookup }, null, 2)}\n`);
    return 0;
  } catch (err) {
    if (err instanceof AnnotationError) {
      io.err(`${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env, io: Io = defaultIo): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve': {
      const { serve } = await import('./server/serve.js');
      await serve(env);
      return -1; // keeps running; exits through its signal handlers
    }
    case 'render':
      return renderCommand(rest, env, io);
    case 'decode':
      return decodeCommand(rest, io);
    case 'encode': {
      const { encodeCommand } = await import('./encode.js');
      return encodeCommand(rest, io.out, io.err);
    }
    case 'certs': {
      const { runCertsCommand } = await import('./certs.js');
      const { defaultCertsDeps } = await import('./certs-kube.js');
      return runCertsCommand(rest, defaultCertsDeps());
    }
    case 'unregister': {
      const { unregister } = await import('./server/unregister.js');
      return unregister(env, io);
    }
    case '--version':
    case 'version':
      io.out(`${VERSION}\n`);
      return 0;
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      io.out(USAGE);
      return command === undefined ? 2 : 0;
    default:
      io.err(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
      return 2;
  }
}

// Run when executed directly (the bundle, or `node --import tsx webhook/cli.ts`), not when imported by tests.
const invokedDirectly = process.argv[1] !== undefined && /(cli\.ts|dap-secret-webhook(\.mjs)?)$/.test(process.argv[1]);
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => {
      if (code >= 0) process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`dap-secret-webhook: ${(err as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
