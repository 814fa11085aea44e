/**
 * The images the node runs, as OCI archives for `ctr images import`.
 * TEMPORARY: stand-in images (test/node/stand-in/build.sh) until the `images` branch's buildah
 * builds of Dockerfile.webhook / Dockerfile.fetcher and the flytekit task image land.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../../../', import.meta.url));

export interface NodeImages {
  webhook: string;
  fetcher: string;
  task: string;
}

export async function nodeImages(): Promise<NodeImages> {
  const cacheRoot = process.env.DAP_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(process.env.HOME ?? '/root', '.cache'), 'dap-secret-webhook');
  const inputs = [join(repo, 'dist/dap-secret-fetcher'), join(repo, 'dist/webhook/dap-secret-webhook.mjs')];
  const key = createHash('sha256');
  for (const f of inputs) key.update(`${f}:${statSync(f).mtimeMs}:${statSync(f).size}`);
  key.update(readFileSync(join(repo, 'test/node/stand-in/build.sh')));
  const out = join(cacheRoot, `node-stand-in-images-${key.digest('hex').slice(0, 12)}`);
  const images = { webhook: join(out, 'webhook.oci.tar'), fetcher: join(out, 'fetcher.oci.tar'), task: join(out, 'task.oci.tar') };
  if (!Object.values(images).every((f) => existsSync(f))) {
    await run('bash', [join(repo, 'test/node/stand-in/build.sh'), out], { timeout: 15 * 60_000, maxBuffer: 16 * 1024 * 1024 });
  }
  return images;
}
