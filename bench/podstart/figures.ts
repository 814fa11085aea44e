/**
 * Pod start on the real node: what the bench spec (podstart.bench.ts) measures, and the pure
 * summary bench/report.ts prints (medians, the added time, its ratio to the baseline).
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { Seen } from '../../test/node/harness/podStart.js';
import { median } from '../lib/stats.js';
import type { ImageSize } from './image-size.js';

/**
 * Where the injected pods' start went: medians of what the watch saw (ms after the create call,
 * as the kubelet reported it — its status updates, not the events themselves) and of the fetcher's
 * own run from its container status timestamps (whole seconds: the API's resolution).
 */
export interface PodStartBreakdown {
  /** create → the pod bound to the node. */
  scheduledMs: number;
  /** bound → the fetcher's exit reported (sandbox, network, fetcher container create + run, the kubelet noticing the exit). */
  scheduledToFetcherDoneMs: number;
  /** fetcher exit reported → task container running reported (the Secret lookup for env, the task container's create + start). */
  fetcherDoneToTaskMs: number;
  /** The fetcher container's startedAt → finishedAt (whole seconds). */
  fetcherRunS: number;
  /** The baseline's bound → task container running reported (sandbox, network, secret volume, task container). */
  baselineScheduledToTaskMs: number;
}

export interface PodStartRaw {
  samples: number;
  /** ms from the create call to the task container running, per sample, interleaved with the baseline. */
  injectedMs: number[];
  baselineMs: number[];
  fetcherImage: ImageSize & {
    image: string;
    /** `ctr -n k8s.io images import` of the fetcher's OCI archive (what stands in for a pull: there is no registry). */
    importMs: number;
    /** The first injected pod after the import (the fetcher image's first container; the task image already warm). */
    firstInjectedPodMs: number;
    /** Its fetcher-free twin, started right after. */
    firstBaselinePodMs: number;
  };
  breakdown: PodStartBreakdown;
}

export interface PodStartFigures extends PodStartRaw {
  /** Set when the part could not run (not root, the node tier failed); the other fields are then empty. */
  skipped?: string;
  injectedMedianMs: number;
  baselineMedianMs: number;
  /** injected − baseline medians: the target (≤ 1 s). */
  addedMedianMs: number;
  /** injected / baseline medians. */
  medianRatio: number;
}

export function summarizePodStart(raw: PodStartRaw): PodStartFigures {
  const injectedMedianMs = median(raw.injectedMs);
  const baselineMedianMs = median(raw.baselineMs);
  return {
    ...raw,
    injectedMedianMs,
    baselineMedianMs,
    addedMedianMs: injectedMedianMs - baselineMedianMs,
    medianRatio: injectedMedianMs / baselineMedianMs,
  };
}

export function skippedPodStart(why: string): PodStartFigures {
  const nan = Number.NaN;
  return {
    skipped: why,
    samples: 0,
    injectedMs: [],
    baselineMs: [],
    fetcherImage: {
      image: '',
      compressedBytes: nan,
      rawBytes: nan,
      layers: 0,
      importMs: nan,
      firstInjectedPodMs: nan,
      firstBaselinePodMs: nan,
    },
    breakdown: {
      scheduledMs: nan,
      scheduledToFetcherDoneMs: nan,
      fetcherDoneToTaskMs: nan,
      fetcherRunS: nan,
      baselineScheduledToTaskMs: nan,
    },
    injectedMedianMs: nan,
    baselineMedianMs: nan,
    addedMedianMs: nan,
    medianRatio: nan,
  };
}

const at = (t: Date | string | undefined) => (t === undefined ? Number.NaN : new Date(t).getTime() / 1000);
const diff = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined ? Number.NaN : b - a;

export interface Observed {
  kind: 'injected' | 'baseline';
  pod: V1Pod;
  seen: Seen;
}

/** Medians over the samples, from the watch's marks and the injected pods' status as seen when their task container ran. */
export function breakdown(samples: Observed[], fetcher: string): PodStartBreakdown {
  const injected = samples.filter((s) => s.kind === 'injected');
  const m = (xs: number[]) => median(xs.filter(Number.isFinite));
  return {
    scheduledMs: m(injected.map((s) => s.seen.scheduled ?? Number.NaN)),
    scheduledToFetcherDoneMs: m(injected.map((s) => diff(s.seen.scheduled, s.seen.initDone))),
    fetcherDoneToTaskMs: m(injected.map((s) => diff(s.seen.initDone, s.seen.taskRunning))),
    fetcherRunS: m(
      injected.map(({ pod }) => {
        const f = pod.status?.initContainerStatuses?.find((c) => c.name === fetcher)?.state?.terminated;
        return at(f?.finishedAt) - at(f?.startedAt);
      }),
    ),
    baselineScheduledToTaskMs: m(
      samples.filter((s) => s.kind === 'baseline').map((s) => diff(s.seen.scheduled, s.seen.taskRunning)),
    ),
  };
}
