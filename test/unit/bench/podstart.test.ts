/**
 * bench/podstart's arithmetic: the added median and its verdict, the status-timestamp breakdown,
 * and the fetcher image's sizes read from an OCI archive. No timings are measured here.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { V1Pod } from '@kubernetes/client-node';
import { breakdown, skippedPodStart, summarizePodStart, type PodStartRaw } from '../../../bench/podstart/figures.js';
import { ociImageSize } from '../../../bench/podstart/image-size.js';
import { benchTable, judge } from '../../../bench/report.js';

const raw = (injectedMs: number[], baselineMs: number[]): PodStartRaw => ({
  samples: injectedMs.length,
  injectedMs,
  baselineMs,
  fetcherImage: { image: 'f:1', rawBytes: 3 << 20, compressedBytes: 1 << 20, layers: 2, importMs: 800, firstInjectedPodMs: 4000, firstBaselinePodMs: 2000 },
  breakdown: { createToFetcherS: 1, fetcherRunS: 0, fetcherExitToTaskS: 1 },
});

describe('bench: pod start on the real node', () => {
  it('added = injected median − baseline median; over 1 s is MISSED, a skipped part is n/a', () => {
    const ok = summarizePodStart(raw([3000, 2500, 2900], [2000, 2100, 1900]));
    assert.equal(ok.addedMedianMs, 900);
    assert.equal(ok.medianRatio, 2900 / 2000);
    assert.equal(judge({ podStart: ok }).find((t) => t.name.startsWith('pod start'))?.verdict, 'met');
    const slow = summarizePodStart(raw([3200, 3100, 3300], [2000, 2100, 1900]));
    assert.equal(judge({ podStart: slow }).find((t) => t.name.startsWith('pod start'))?.verdict, 'MISSED');
    const skipped = skippedPodStart('needs root');
    assert.equal(judge({ podStart: skipped }).find((t) => t.name.startsWith('pod start'))?.verdict, 'n/a');
    assert.ok(JSON.stringify(benchTable({ podStart: skipped }, judge({ podStart: skipped }))).includes('skipped: needs root'));
  });

  it('the breakdown takes medians of the injected pods\' status timestamps', () => {
    const pod = (created: number, fStart: number, fEnd: number, task: number): V1Pod => ({
      metadata: { creationTimestamp: new Date(created * 1000) },
      spec: { containers: [{ name: 'task' }] },
      status: {
        initContainerStatuses: [{ name: 'fetcher', image: '', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, startedAt: new Date(fStart * 1000), finishedAt: new Date(fEnd * 1000) } } }],
        containerStatuses: [{ name: 'task', image: '', imageID: '', ready: true, restartCount: 0, state: { running: { startedAt: new Date(task * 1000) } } }],
      },
    });
    assert.deepEqual(breakdown([pod(0, 1, 2, 3), pod(10, 12, 12, 14), pod(20, 21, 23, 24)], 'fetcher'), { createToFetcherS: 1, fetcherRunS: 1, fetcherExitToTaskS: 1 });
  });

  it('image size: the manifest\'s gzip layer sizes, and their gunzipped bytes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'podstart-oci-'));
    try {
      const blobs = join(dir, 'blobs', 'sha256');
      mkdirSync(blobs, { recursive: true });
      const put = (data: Buffer) => {
        const digest = createHash('sha256').update(data).digest('hex');
        writeFileSync(join(blobs, digest), data);
        return { digest: `sha256:${digest}`, size: data.length };
      };
      const layers = [Buffer.alloc(100_000, 1), Buffer.alloc(30_000, 2)].map((b) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...put(gzipSync(b)) }));
      const manifest = put(Buffer.from(JSON.stringify({ schemaVersion: 2, layers })));
      writeFileSync(join(dir, 'index.json'), JSON.stringify({ manifests: [manifest] }));
      execFileSync('tar', ['-cf', join(dir, 'image.tar'), '-C', dir, 'index.json', 'blobs']);
      assert.deepEqual(await ociImageSize(join(dir, 'image.tar')), { rawBytes: 130_000, compressedBytes: layers[0]!.size + layers[1]!.size, layers: 2 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
