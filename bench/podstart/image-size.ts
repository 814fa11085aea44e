/**
 * An OCI archive's image size as a registry would serve it: the manifest's layers as stored
 * (gzip, what a pull downloads) and unpacked (the layer tars gunzipped, what the node's
 * snapshotter holds). Reads the archive with the system tar (no extraction to disk).
 */
import { spawn } from 'node:child_process';
import { createGunzip } from 'node:zlib';

export interface ImageSize {
  /** Sum of the layers as stored in the archive (gzip): what a registry pull transfers. */
  compressedBytes: number;
  /** Sum of the layers gunzipped (tar streams): the image's raw size. */
  rawBytes: number;
  layers: number;
}

interface Manifest {
  layers: { mediaType: string; digest: string; size: number }[];
}

/** One member of the archive, as a stream piped into `sink`; resolves when tar has exited. */
function member(archive: string, path: string, sink: (out: NodeJS.ReadableStream) => Promise<void>): Promise<void> {
  const tar = spawn('tar', ['-xOf', archive, path], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  tar.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve, reject) => {
    tar.on('error', reject);
    tar.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`tar -xOf ${archive} ${path} exited ${code}: ${stderr.trim()}`)),
    );
  });
  return Promise.all([sink(tar.stdout), exited]).then(() => undefined);
}

async function readJson<T>(archive: string, path: string): Promise<T> {
  let text = '';
  await member(archive, path, async (out) => {
    for await (const chunk of out) text += chunk.toString();
  });
  return JSON.parse(text) as T;
}

const blob = (digest: string) => `blobs/${digest.replace(':', '/')}`;

export async function ociImageSize(archive: string): Promise<ImageSize> {
  const index = await readJson<{ manifests: { digest: string }[] }>(archive, 'index.json');
  if (index.manifests.length !== 1)
    throw new Error(`${archive}: ${index.manifests.length} manifests in index.json; expected one image`);
  const manifest = await readJson<Manifest>(archive, blob(index.manifests[0]!.digest));
  let rawBytes = 0;
  let compressedBytes = 0;
  for (const layer of manifest.layers) {
    compressedBytes += layer.size;
    const gzip = layer.mediaType.endsWith('+gzip');
    await member(archive, blob(layer.digest), async (out) => {
      const stream = gzip ? out.pipe(createGunzip()) : out;
      for await (const chunk of stream) rawBytes += (chunk as Buffer).length;
    });
  }
  return { compressedBytes, rawBytes, layers: manifest.layers.length };
}
