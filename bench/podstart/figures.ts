/**
 * Pod start on the real node: what the bench spec (podstart.bench.ts) measures, and the pure
 * summary bench/report.ts prints (medians, the added time, its ratio to the baseline).
 */
import type { V1Pod } from '@kubernetes/client-node';
import { median } from '../lib/stats.js';
import type { ImageSize } from './image-size.js';

/** Where the injected pods' start went, from pod status timestamps (whole seconds: the API's resolution). */
export interface PodStartBreakdown {
  /** Median s from creation to the fetcher's start (scheduling, sandbox, network, fetcher container create). */
  createToFetcherS: number;
  /** Median s the fetcher ran (started → finished). */
  fetcherRunS: number;
  /** Median s from the fetcher's exit to the task container's start (the kubelet noticing the exit, the Secret lookup for env, container create). */
  fetcherExitToTaskS: number;
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
  return { ...raw, injectedMedianMs, baselineMedianMs, addedMedianMs: injectedMedianMs - baselineMedianMs, medianRatio: injectedMedianMs / baselineMedianMs };
}

export function skippedPodStart(why: string): PodStartFigures {
  const nan = Number.NaN;
  return {
    skipped: why,
    samples: 0,
    injectedMs: [],
    baselineMs: [],
    fetcherImage: { image: '', compressedBytes: nan, rawBytes: nan, layers: 0, importMs: nan, firstInjectedPodMs: nan, firstBaselinePodMs: nan },
    breakdown: { createToFetcherS: nan, fetcherRunS: nan, fetcherExitToTaskS: nan },
    injectedMedianMs: nan,
    baselineMedianMs: nan,
    addedMedianMs: nan,
    medianRatio: nan,
  };
}

const at = (t: Date | string | undefined) => (t === undefined ? Number.NaN : new Date(t).getTime() / 1000);

/** Medians over the injected pods, as seen when their task container ran. */
export function breakdown(pods: V1Pod[], fetcher: string): PodStartBreakdown {
  const stages = pods.map((pod) => {
    const f = pod.status?.initContainerStatuses?.find((c) => c.name === fetcher)?.state?.terminated;
    const task = pod.status?.containerStatuses?.find((c) => c.name === pod.spec?.containers[0]?.name)?.state;
    const taskStart = at(task?.running?.startedAt ?? task?.terminated?.startedAt);
    return {
      createToFetcherS: at(f?.startedAt) - at(pod.metadata?.creationTimestamp),
      fetcherRunS: at(f?.finishedAt) - at(f?.startedAt),
      fetcherExitToTaskS: taskStart - at(f?.finishedAt),
    };
  });
  const m = (k: keyof PodStartBreakdown) => median(stages.map((s) => s[k]).filter(Number.isFinite));
  return { createToFetcherS: m('createToFetcherS'), fetcherRunS: m('fetcherRunS'), fetcherExitToTaskS: m('fetcherExitToTaskS') };
}
