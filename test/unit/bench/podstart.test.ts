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
import {
  breakdown,
  type Observed,
  type PodStartRaw,
  skippedPodStart,
  summarizePodStart,
} from '../../../bench/podstart/figures.js';
import { ociImageSize } from '../../../bench/podstart/image-size.js';
import { benchTable, judge } from '../../../bench/report.js';
import type { Seen } from '../../../test/node/harness/podStart.js';

const raw = (injectedMs: number[], baselineMs: number[]): PodStartRaw => ({
  samples: injectedMs.length,
  injectedMs,
  baselineMs,
  fetcherImage: {
    image: 'f:1',
    rawBytes: 3 << 20,
    compressedBytes: 1 << 20,
    layers: 2,
    importMs: 800,
    firstInjectedPodMs: 4000,
    firstBaselinePodMs: 2000,
  },
  breakdown: {
    scheduledMs: 20,
    scheduledToFetcherDoneMs: 1500,
    fetcherDoneToTaskMs: 900,
    fetcherRunS: 0,
    baselineScheduledToTaskMs: 1200,
  },
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
    assert.ok(
      JSON.stringify(benchTable({ podStart: skipped }, judge({ podStart: skipped }))).includes('skipped: needs root'),
    );
  });

  it("the breakdown: medians of the watch's marks per step, and of the fetcher's status timestamps", () => {
    const pod = (fStart: number, fEnd: number): V1Pod => ({
      spec: { containers: [{ name: 'task' }] },
      status: {
        initContainerStatuses: [
          {
            name: 'fetcher',
            image: '',
            imageID: '',
            ready: false,
            restartCount: 0,
            state: {
              terminated: { exitCode: 0, startedAt: new Date(fStart * 1000), finishedAt: new Date(fEnd * 1000) },
            },
          },
        ],
      },
    });
    const injected = (seen: Seen, fStart = 1, fEnd = 2): Observed => ({
      kind: 'injected',
      pod: pod(fStart, fEnd),
      seen,
    });
    const baseline = (seen: Seen): Observed => ({
      kind: 'baseline',
      pod: { spec: { containers: [{ name: 'task' }] } },
      seen,
    });
    const b = breakdown(
      [
        injected({ scheduled: 10, initDone: 1010, taskRunning: 2010 }),
        baseline({ scheduled: 5, taskRunning: 905 }),
        injected({ scheduled: 30, initDone: 2030, taskRunning: 2530 }, 3, 5),
        baseline({ scheduled: 7, taskRunning: 1707 }),
        // The fetcher's exit never seen: left out of the steps it bounds, not counted as 0.
        injected({ scheduled: 20, taskRunning: 3020 }, 7, 7),
        injected({ scheduled: 40, initDone: 3040, taskRunning: 3540 }, 4, 5),
      ],
      'fetcher',
    );
    assert.deepEqual(b, {
      scheduledMs: 20,
      scheduledToFetcherDoneMs: 2000,
      fetcherDoneToTaskMs: 500,
      fetcherRunS: 1,
      baselineScheduledToTaskMs: 900,
    });
  });

  it("image size: the manifest's gzip layer sizes, and their gunzipped bytes", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'podstart-oci-'));
    try {
      const blobs = join(dir, 'blobs', 'sha256');
      mkdirSync(blobs, { recursive: true });
      const put = (data: Buffer) => {
        const digest = createHash('sha256').update(data).digest('hex');
        writeFileSync(join(blobs, digest), data);
        return { digest: `sha256:${digest}`, size: data.length };
      };
      const layers = [Buffer.alloc(100_000, 1), Buffer.alloc(30_000, 2)].map((b) => ({
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        ...put(gzipSync(b)),
      }));
      const manifest = put(Buffer.from(JSON.stringify({ schemaVersion: 2, layers })));
      writeFileSync(join(dir, 'index.json'), JSON.stringify({ manifests: [manifest] }));
      execFileSync('tar', ['-cf', join(dir, 'image.tar'), '-C', dir, 'index.json', 'blobs']);
      assert.deepEqual(await ociImageSize(join(dir, 'image.tar')), {
        rawBytes: 130_000,
        compressedBytes: layers[0]!.size + layers[1]!.size,
        layers: 2,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
