/**
 * Development values for a laptop run (`npm start`, `render` without a deployment's env): the two
 * required settings get a placeholder, the server listens on loopback only and never registers
 * itself with whatever cluster ~/.kube/config points at. Each one used is said on stderr.
 * No imports: scripts/dev-start.mjs loads this file with Node's own type stripping.
 */
export const RENDER_DEV_DEFAULTS: Readonly<Record<string, string>> = {
  FETCHER_IMAGE: 'dap-secret-fetcher:dev',
  MLP_API_HOST: 'http://127.0.0.1:8081',
};

export const SERVE_DEV_DEFAULTS: Readonly<Record<string, string>> = {
  ...RENDER_DEV_DEFAULTS,
  WEBHOOK_HOST: '127.0.0.1',
  // A laptop's ~/.kube/config may point at a real cluster: never register a failurePolicy=Fail
  // webhook there from a development run.
  WEBHOOK_REGISTER: 'false',
  // No API server routes to a laptop: stop at once on Ctrl-C / SIGTERM instead of draining 5 s.
  WEBHOOK_DRAIN_DELAY_SECONDS: '0',
};

/** `env` with every unset (or blank) default filled in, and one stderr line per value used. */
export function withDevDefaults(
  env: Readonly<Record<string, string | undefined>>,
  defaults: Readonly<Record<string, string>>,
  who: string,
): { env: Record<string, string | undefined>; notes: string[] } {
  const out: Record<string, string | undefined> = { ...env };
  const notes: string[] = [];
  for (const [name, value] of Object.entries(defaults)) {
    if ((out[name] ?? '').trim() === '') {
      out[name] = value;
      notes.push(`${who}: ${name} not set, using the development value ${value}`);
    }
  }
  return { env: out, notes };
}
