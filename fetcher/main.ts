/**
 * The fetcher's run, start to finish: configuration → token → MLP → files → per-pod Secret.
 * Returns the exit code; on failure writes one paragraph to stderr and to the termination message
 * file, which Kubernetes shows in the pod's status. I/O is injected so tests can drive it.
 */
import { writeFile } from 'node:fs/promises';
import { DEFAULT_BYTE_CAPS, FETCHER_ENV } from '../contract/fetcher-env.js';
import { type Config, type Env, loadConfig, secretNames, terminationLogPath } from './config.js';
import { asFetcherError, EXIT_CODES, type ExitCode, FetcherError, type ReportContext, renderReport } from './errors.js';
import { writeSecretFiles } from './files.js';
import type { HttpContext, HttpTransport } from './http.js';
import { nodeHttpTransport } from './http-transport.js';
import { jsonLogger, type Logger, type LogSink } from './log.js';
import { Redactor } from './redact.js';
import { type Clock, gaveUp, startDeadline, systemClock } from './retry.js';

declare const __DAP_FETCHER_VERSION__: string | undefined;
export const VERSION = typeof __DAP_FETCHER_VERSION__ === 'string' ? __DAP_FETCHER_VERSION__ : '0.0.0-dev';

/**
 * The fetcher may only create Secrets, not read them, so a 409 cannot be compared with what it
 * would have written: say so, and what to look at when it was not a retry.
 */
const ALREADY_THERE =
  'found the pod secret already there and left it as it is (the fetcher can create Secrets but not read them). ' +
  'This is expected when the kubelet runs this init container ' +
  'again (a retry after a crash, or a restarted pod sandbox). ' +
  'Otherwise something else created it first: check its ownerReference names this pod and who created it ' +
  '(kubectl get secret -o yaml: metadata.ownerReferences, metadata.managedFields), ' +
  'and turn on the fetcher Secret policy (deploy/README.md)';

/** After the deadline, this long for in-flight work to notice before the run is cut off. */
const DEADLINE_GRACE_MS = 1000;

const E = FETCHER_ENV;

/** The environment as `--help` lists it: variable names, what they are. */
const ENV_HELP: [names: string[], meaning: string][] = [
  [[E.plan], 'the plan (JSON) from the webhook: project, files, Secret'],
  [[E.podName, E.podNamespace, E.podUid], 'the pod (downward API)'],
  [[E.podServiceAccount], "the pod's service account (for messages)"],
  [[E.mlpApiHost], 'MLP base URL, e.g. http://mlp.caraml.svc:8080'],
  [[E.authMode], 'serviceaccount (default) | token-exchange | gcp-workload-identity'],
  [[E.mlpTokenFile], 'projected service-account token (serviceaccount, token-exchange)'],
  [[E.tokenAudience], 'ID token audience for gcp-workload-identity (default api.caraml)'],
  [[E.exchangeIssuer], 'OIDC issuer (token-exchange)'],
  [[E.exchangeAudience, E.exchangeScope], 'requested audience / scope (optional)'],
  [[E.exchangeClientCredentialsFile], 'JSON {client_id, client_secret} (optional)'],
  [[E.exchangeClientId], 'public client id without a credentials file (default dap-secret-fetcher)'],
  [[E.gceMetadataHost], 'metadata server host[:port] (default metadata.google.internal)'],
  [[E.kubeApiUrl, E.kubeTokenFile, E.kubeCaFile], 'Kubernetes API access for the Secret'],
  [[E.deadlineSeconds], 'overall deadline (default 60)'],
  [[E.maxProjectsBytes], `cap on MLP's project list (default ${DEFAULT_BYTE_CAPS.projectsBytes})`],
  [[E.maxSecretsBytes], `cap on MLP's secrets list (default ${DEFAULT_BYTE_CAPS.secretsBytes})`],
  [[E.maxSecretBytes], `cap on one secret in that list (default ${DEFAULT_BYTE_CAPS.secretBytes})`],
  [[E.terminationLog], 'termination message file (default /dev/termination-log)'],
  [[E.extraCaCerts], 'PEM CAs trusted next to the public ones (MLP behind a private CA)'],
];

/** Where descriptions start; names that do not fit before it get theirs on the next line. */
const HELP_COLUMN = 26;

function helpRows(rows: [names: string[], meaning: string][]): string {
  return rows
    .map(([names, meaning]) => {
      const left = `  ${names.join(', ')}`;
      return left.length + 2 <= HELP_COLUMN
        ? `${left.padEnd(HELP_COLUMN)}${meaning}`
        : `${left}\n${' '.repeat(HELP_COLUMN)}${meaning}`;
    })
    .join('\n');
}

export const HELP = `dap-secret-fetcher ${VERSION}

The init container that dap-secret-webhook adds to Flyte task pods. It fetches the pod's MLP
secrets with the pod's own identity, writes FILE secrets into the shared in-memory volume and
creates the per-pod Kubernetes Secret for ENV_VAR secrets. The webhook sets everything below.

Usage: dap-secret-fetcher [--help | --version]

Environment:
${helpRows(ENV_HELP)}

Exit codes: 0 done, 1 failed (MLP, token, Kubernetes or files), 2 invalid configuration,
3 deadline passed.
`;

export interface MainIo {
  env: Env;
  stdout: LogSink;
  stderr: LogSink;
  /** MLP and metadata server requests; node:http by default. */
  request?: HttpTransport;
  /** openid-client's fetch (token-exchange); the global fetch by default. */
  fetch?: typeof fetch;
  clock?: Clock;
}

function configError(problems: string[]): FetcherError {
  return new FetcherError({
    problem:
      `the fetcher's configuration is invalid: ` +
      `${problems.length === 1 ? problems[0] : problems.map((p, i) => `(${i + 1}) ${p}`).join(' ')}`,
    fix:
      'the webhook sets these variables on the init container; ' +
      'check that the webhook and fetcher versions match and the pod spec was not edited',
    exitCode: EXIT_CODES.config,
  });
}

async function run(config: Config, log: Logger, http: HttpContext, redactor: Redactor): Promise<void> {
  const { plan, pod } = config;
  const [{ createTokenSource }, { fetchMlpSecrets }] = await Promise.all([
    import('./token/index.js'),
    import('./mlp.js'),
  ]);
  const tokens = await createTokenSource(config, { http, redactor });
  const k8s = plan.secret ? await import('./k8s-secret.js') : null;
  // The Secret's TLS set-up needs nothing from MLP: made while MLP answers (bench/README.md,
  // "Where the time goes"). Its error, if any, is reported where the Secret is created, as before.
  const kubeTls = k8s && config.kube ? k8s.prepareKubeTls(config.kube) : undefined;
  kubeTls?.catch(() => {});
  const values = await fetchMlpSecrets(
    { http, tokens, redactor },
    { baseUrl: config.mlpBaseUrl, project: plan.project, secrets: secretNames(plan), caps: config.caps },
  );
  log.info('fetched secrets from MLP', { count: values.size });

  const secretRequest = plan.secret && {
    namespace: pod.namespace,
    name: plan.secret.name,
    podName: pod.name,
    podUid: pod.uid,
    entries: plan.secret.keys.map((k) => ({
      key: k.key,
      value: values.get(k.mlpSecret) as string,
      mlpSecret: k.mlpSecret,
    })),
  };
  // Check the Secret's size before writing anything, so a run that must fail changes nothing.
  if (secretRequest && k8s) k8s.checkPodSecretSize(secretRequest);

  const files = plan.files.map((f) => ({
    path: f.path,
    mlpSecret: f.mlpSecret,
    data: values.get(f.mlpSecret) as string,
  }));
  await writeSecretFiles(plan.fileRoot, files, { fileMode: plan.fileMode, dirMode: plan.dirMode });
  if (files.length > 0) log.info('wrote secret files', { count: files.length, root: plan.fileRoot });

  if (secretRequest && k8s && config.kube) {
    const outcome = await k8s.createPodSecret(secretRequest, config.kube, {
      clock: http.clock,
      deadline: http.deadline,
      log,
      redactor,
      ...(kubeTls ? { tls: kubeTls } : {}),
    });
    const secret = `${pod.namespace}/${secretRequest.name}`;
    if (outcome === 'created') log.info('created the pod secret', { secret, keys: secretRequest.entries.length });
    else log.warn(ALREADY_THERE, { secret, keys: secretRequest.entries.length });
  }
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/** Resolves with a deadline error shortly after the deadline, in case some work ignores the signal. */
function cutOff(signal: AbortSignal, totalMs: number): { promise: Promise<never>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<never>((_, reject) => {
    const fire = (): void => {
      timer = setTimeout(() => {
        reject(
          gaveUp(
            new FetcherError({ problem: 'a call did not finish', fix: 'check the peers the fetcher talks to' }),
            `gave up when the ${totalMs / 1000} s deadline passed`,
          ),
        );
      }, DEADLINE_GRACE_MS);
      timer.unref();
    };
    if (signal.aborted) fire();
    else signal.addEventListener('abort', fire, { once: true });
  });
  promise.catch(() => {});
  return { promise, cancel: () => clearTimeout(timer) };
}

export async function main(argv: string[], io: MainIo): Promise<ExitCode> {
  if (argv.includes('--version') || argv.includes('-v')) {
    io.stdout.write(`dap-secret-fetcher ${VERSION}\n`);
    return EXIT_CODES.ok;
  }
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout.write(HELP);
    return EXIT_CODES.ok;
  }
  const redactor = new Redactor();
  const log = jsonLogger(io.stdout, redactor);
  const clock = io.clock ?? systemClock;
  const started = clock.now();
  const context: ReportContext = {};
  const fail = async (err: unknown): Promise<ExitCode> => {
    const error = asFetcherError(err);
    const report = redactor.apply(renderReport(error, context));
    io.stderr.write(`${report}\n`);
    log.error('failed', {
      status: error.status ?? null,
      exitCode: error.exitCode,
      durationMs: clock.now() - started,
      report,
    });
    try {
      await writeFile(terminationLogPath(io.env), report);
    } catch (writeErr) {
      log.warn('could not write the termination message', {
        path: terminationLogPath(io.env),
        error: (writeErr as NodeJS.ErrnoException).code ?? 'error',
      });
    }
    return error.exitCode;
  };

  if (argv.length > 0) {
    return fail(
      new FetcherError({
        problem: `unknown argument ${JSON.stringify(argv[0])}`,
        fix: 'run dap-secret-fetcher --help',
        exitCode: EXIT_CODES.config,
      }),
    );
  }
  const loaded = loadConfig(io.env);
  const podName = io.env[E.podName];
  const podNamespace = io.env[E.podNamespace];
  if (podName) context.pod = podNamespace ? `${podNamespace}/${podName}` : podName;
  const plan = loaded.ok ? loaded.config.plan : loaded.plan;
  if (plan) {
    context.project = plan.project;
    context.secrets = secretNames(plan);
  }
  if (!loaded.ok) return fail(configError(loaded.problems));
  const { config } = loaded;

  log.info('start', {
    version: VERSION,
    pod: context.pod,
    project: config.plan.project,
    authMode: config.auth.mode,
    secrets: context.secrets,
    files: config.plan.files.length,
    envSecrets: config.plan.secret?.keys.length ?? 0,
    deadlineSeconds: config.deadlineMs / 1000,
  });
  if (config.mlpBaseUrl.protocol === 'http:' && !isLoopback(config.mlpBaseUrl.hostname)) {
    log.warn(
      `${E.mlpApiHost} is plain http: the pod's bearer token and the secret values cross the network unencrypted; ` +
        `use an https:// URL (or a mesh that encrypts pod traffic)`,
      {
        host: config.mlpBaseUrl.host,
      },
    );
  }
  const deadline = startDeadline(config.deadlineMs, clock);
  const stop = cutOff(deadline.signal, config.deadlineMs);
  const http: HttpContext = {
    request: io.request ?? nodeHttpTransport,
    ...(io.fetch ? { fetch: io.fetch } : {}),
    clock,
    deadline,
    log,
  };
  try {
    await Promise.race([run(config, log, http, redactor), stop.promise]);
  } catch (err) {
    return fail(err);
  } finally {
    deadline.cancel();
    stop.cancel();
  }
  log.info('done', { durationMs: clock.now() - started });
  return EXIT_CODES.ok;
}
