/**
 * Pod start on the real node: what the bench spec (podstart.bench.ts) measures, and the pure
 * summary bench/report.ts prints (medians, the added time, its ratio to the baseline).
 */
import type { PodStartSample } from '../../test/node/harness/podStart.js';
import { median } from '../lib/stats.js';
import type { ImageSize } from './image-size.js';

/**
 * Where the pods' start went, medians in ms after the create call unless said: what the watch saw
 * (as the kubelet reported it — its status updates, not the events themselves), the task's own
 * start stamp, and the fetcher's first and last log lines (containerd's log timestamps, sub-second;
 * the API's container timestamps are whole seconds).
 */
export interface PodStartBreakdown {
  /** create → the pod bound to the node. */
  scheduledMs: number;
  /** bound → the fetcher's exit reported (sandbox, network, fetcher container create + run, the kubelet noticing the exit). */
  scheduledToFetcherDoneMs: number;
  /** fetcher exit reported → task container running reported. */
  fetcherDoneToTaskMs: number;
  /** bound → the fetcher's first log line (sandbox, network, fetcher container create + start, the executable's start-up). */
  scheduledToFetcherLogMs: number;
  /** The fetcher's first → last log line (its work: MLP, files, the Secret). */
  fetcherLogRunMs: number;
  /** The fetcher's last log line (≈ its exit) → the task's code started: the wait for the relist that sees the exit, then the task container's create + start. */
  fetcherExitToTaskStartedMs: number;
  /** Injected: task code started → reported running. */
  taskStartedToReportedMs: number;
  /** The baseline's bound → task code started (sandbox, network, secret volume, task container). */
  baselineScheduledToTaskStartedMs: number;
  /** The baseline's bound → task running reported. */
  baselineScheduledToTaskMs: number;
  /** Baseline: task code started → reported running. */
  baselineTaskStartedToReportedMs: number;
}

export interface PodStartRaw {
  samples: number;
  /** Reported running: ms from the create call until the watch saw the task container running, per sample, interleaved with the baseline. */
  injectedMs: number[];
  baselineMs: number[];
  /** Task code started: ms from the create call to the task's own start stamp, per sample. */
  injectedTaskStartedMs: number[];
  baselineTaskStartedMs: number[];
  /** The relist-phase offset each sample's creates waited (ms). */
  offsetsMs: number[];
  /** Every sample in full (marks, task stamp, fetcher log span), in the order taken, for the results JSON. */
  detail: { injected: PodStartSample[]; baseline: PodStartSample[] };
  fetcherImage: ImageSize & {
    image: string;
    /** `ctr -n k8s.io images import` of the fetcher's OCI archive (what stands in for a pull: there is no registry). */
    importMs: number;
    /** The first injected pod after the import (the fetcher image's first container; the task image already warm), reported running. */
    firstInjectedPodMs: number;
    /** Its fetcher-free twin, started right after. */
    firstBaselinePodMs: number;
  };
  breakdown: PodStartBreakdown;
  /** Set when the node ran with the experiment switches (test/node/harness/node.ts EXPERIMENT): not the tier's own node. */
  experiment?: string;
}

export interface PodStartFigures extends PodStartRaw {
  /** Set when the part could not run (not root, the node tier failed); the other fields are then empty. */
  skipped?: string;
  /** Task code started (the target's figure: what the user's task waits). */
  taskStarted: { injectedMedianMs: number; baselineMedianMs: number; addedMedianMs: number; medianRatio: number };
  /** Reported running by the kubelet (reported beside it: what `kubectl get pod` shows). */
  reported: { injectedMedianMs: number; baselineMedianMs: number; addedMedianMs: number; medianRatio: number };
}

const compare = (injected: number[], baseline: number[]) => {
  const injectedMedianMs = median(injected);
  const baselineMedianMs = median(baseline);
  return {
    injectedMedianMs,
    baselineMedianMs,
    addedMedianMs: injectedMedianMs - baselineMedianMs,
    medianRatio: injectedMedianMs / baselineMedianMs,
  };
};

export function summarizePodStart(raw: PodStartRaw): PodStartFigures {
  return {
    ...raw,
    taskStarted: compare(raw.injectedTaskStartedMs, raw.baselineTaskStartedMs),
    reported: compare(raw.injectedMs, raw.baselineMs),
  };
}

export function skippedPodStart(why: string): PodStartFigures {
  const nan = Number.NaN;
  const none = { injectedMedianMs: nan, baselineMedianMs: nan, addedMedianMs: nan, medianRatio: nan };
  return {
    skipped: why,
    samples: 0,
    injectedMs: [],
    baselineMs: [],
    injectedTaskStartedMs: [],
    baselineTaskStartedMs: [],
    offsetsMs: [],
    detail: { injected: [], baseline: [] },
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
      scheduledToFetcherLogMs: nan,
      fetcherLogRunMs: nan,
      fetcherExitToTaskStartedMs: nan,
      taskStartedToReportedMs: nan,
      baselineScheduledToTaskStartedMs: nan,
      baselineScheduledToTaskMs: nan,
      baselineTaskStartedToReportedMs: nan,
    },
    taskStarted: none,
    reported: none,
  };
}

const diff = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined ? Number.NaN : b - a;

export interface Observed {
  kind: 'injected' | 'baseline';
  sample: PodStartSample;
}

/** Medians over the samples of each step (a step a sample did not see is left out, not counted as 0). */
export function breakdown(samples: Observed[]): PodStartBreakdown {
  const injected = samples.filter((s) => s.kind === 'injected').map((s) => s.sample);
  const baseline = samples.filter((s) => s.kind === 'baseline').map((s) => s.sample);
  const m = (xs: number[]) => median(xs.filter(Number.isFinite));
  return {
    scheduledMs: m(injected.map((s) => s.seen.scheduled ?? Number.NaN)),
    scheduledToFetcherDoneMs: m(injected.map((s) => diff(s.seen.scheduled, s.seen.initDone))),
    fetcherDoneToTaskMs: m(injected.map((s) => diff(s.seen.initDone, s.seen.taskRunning))),
    scheduledToFetcherLogMs: m(injected.map((s) => diff(s.seen.scheduled, s.fetcherLog?.firstMs))),
    fetcherLogRunMs: m(injected.map((s) => diff(s.fetcherLog?.firstMs, s.fetcherLog?.lastMs))),
    fetcherExitToTaskStartedMs: m(injected.map((s) => diff(s.fetcherLog?.lastMs, s.taskStartedMs))),
    taskStartedToReportedMs: m(injected.map((s) => s.reportedMs - s.taskStartedMs)),
    baselineScheduledToTaskStartedMs: m(baseline.map((s) => diff(s.seen.scheduled, s.taskStartedMs))),
    baselineScheduledToTaskMs: m(baseline.map((s) => diff(s.seen.scheduled, s.seen.taskRunning))),
    baselineTaskStartedToReportedMs: m(baseline.map((s) => s.reportedMs - s.taskStartedMs)),
  };
}
