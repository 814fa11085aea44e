/**
 * `encode`: a Flyte secret request → the value flytepropeller writes into its `flyte.secrets/s<i>`
 * annotation (the inverse of `decode`), for trying the webhook on a hand-written pod.
 */
import { parseArgs } from 'node:util';
import { encodeSecretAnnotation, type MountRequirement } from './flyte/annotations.js';

const ENCODE_USAGE = `usage: dap-secret-webhook encode --key KEY [--group GROUP] [--group-version V] [--mount ANY|ENV_VAR|FILE] [--env-var NAME]
  prints the value of one flyte.secrets/s<i> annotation (as flytepropeller writes it) for that secret;
  the MLP secret read is KEY, from the MLP project of the pod's namespace
`;

const MOUNTS: readonly MountRequirement[] = ['ANY', 'ENV_VAR', 'FILE'];

export function encodeCommand(argv: string[], out: (s: string) => void, err: (s: string) => void): number {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        group: { type: 'string' },
        'group-version': { type: 'string' },
        key: { type: 'string' },
        mount: { type: 'string' },
        'env-var': { type: 'string' },
      },
    }) as { values: Record<string, string | undefined> });
  } catch (e) {
    err(`encode: ${(e as Error).message}\n${ENCODE_USAGE}`);
    return 2;
  }
  const mount = (values.mount ?? 'ANY').toUpperCase();
  if (!(MOUNTS as readonly string[]).includes(mount)) {
    err(`encode: --mount must be ANY, ENV_VAR or FILE, not ${JSON.stringify(values.mount)}\n${ENCODE_USAGE}`);
    return 2;
  }
  if (!values.key) {
    err(
      `encode: --key is required: it is the MLP secret's name (a group-only request has no MLP secret and is denied)\n${ENCODE_USAGE}`,
    );
    return 2;
  }
  out(
    `${encodeSecretAnnotation({ group: values.group ?? '', groupVersion: values['group-version'] ?? '', key: values.key, mountRequirement: mount as MountRequirement, envVar: values['env-var'] ?? '' })}\n`,
  );
  return 0;
}
