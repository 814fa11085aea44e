/**
 * Reads an OCI image archive (`buildah push IMAGE oci-archive:FILE`) with plain tar: its name,
 * config and layers, and unpacks its root filesystem, so tests check what a runtime would run
 * without a container engine. Layers are applied in order; whiteouts (`.wh.*`, deletions in an
 * upper layer) are applied too, as containerd's snapshotter would.
 */
import { execFile, spawn } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

interface ImageConfig {
  User?: string;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  ExposedPorts?: Record<string, object>;
  Labels?: Record<string, string>;
}

export interface OciImage {
  /** org.opencontainers.image.ref.name of the index entry: the name `ctr images import` gives it. */
  refName: string | undefined;
  architecture: string;
  os: string;
  config: ImageConfig;
  layers: Descriptor[];
}

async function member(archive: string, path: string): Promise<string> {
  const { stdout } = await run('tar', ['-xOf', archive, path], { maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}
const blobPath = (digest: string) => `blobs/${digest.replace(':', '/')}`;

export async function readOciArchive(archive: string): Promise<OciImage> {
  const index = JSON.parse(await member(archive, 'index.json')) as { manifests: Descriptor[] };
  if (index.manifests.length !== 1)
    throw new Error(`${archive}: expected one image in the index, found ${index.manifests.length}`);
  const entry = index.manifests[0]!;
  const manifest = JSON.parse(await member(archive, blobPath(entry.digest))) as {
    config: Descriptor;
    layers: Descriptor[];
  };
  const config = JSON.parse(await member(archive, blobPath(manifest.config.digest))) as {
    architecture: string;
    os: string;
    config: ImageConfig;
  };
  return {
    refName: entry.annotations?.['org.opencontainers.image.ref.name'],
    architecture: config.architecture,
    os: config.os,
    config: config.config,
    layers: manifest.layers,
  };
}

/** Streams one layer blob out of the archive into `tar -x` (owners and modes kept: run as root). */
function extractLayer(archive: string, layer: Descriptor, into: string): Promise<void> {
  const compression = layer.mediaType.endsWith('+gzip') ? ['-z'] : layer.mediaType.endsWith('+zstd') ? ['--zstd'] : [];
  return new Promise((resolve, reject) => {
    const out = spawn('tar', ['-xOf', archive, blobPath(layer.digest)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const inp = spawn('tar', ['-x', ...compression, '-f', '-', '-C', into, '--numeric-owner', '--same-permissions'], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    out.stdout.pipe(inp.stdin);
    let stderr = '';
    out.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    inp.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let pending = 2;
    let failed = false;
    const done = (code: number | null) => {
      if (code !== 0) failed = true;
      if (--pending === 0) {
        if (failed) reject(new Error(`unpacking ${layer.digest} of ${archive}: ${stderr}`));
        else resolve();
      }
    };
    out.on('close', done);
    inp.on('close', done);
  });
}

/** Removes the paths whiteout files name (and the whiteouts), as an overlay of the layers shows. */
async function applyWhiteouts(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.name.startsWith('.wh.')) continue;
    const path = join(entry.parentPath, entry.name);
    if (entry.name === '.wh..wh..opq') {
      throw new Error(`${path}: opaque whiteouts are not handled by this reader`);
    }
    await rm(join(dirname(path), basename(path).slice('.wh.'.length)), { recursive: true, force: true });
    await rm(path, { force: true });
  }
}

/** Unpacks every layer of the image into `dir` (which must exist and be empty). */
export async function unpackOciArchive(archive: string, dir: string): Promise<OciImage> {
  const image = await readOciArchive(archive);
  for (const layer of image.layers) {
    await extractLayer(archive, layer, dir);
    await applyWhiteouts(dir);
  }
  return image;
}
