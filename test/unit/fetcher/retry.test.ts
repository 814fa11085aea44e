import assert from 'node:assert/strict';
import { EXIT_CODES, FetcherError } from '../../../fetcher/errors.js';
import { backoffMs, DEFAULT_RETRY_POLICY, parseRetryAfter, withRetry } from '../../../fetcher/retry.js';
import { FakeClock, fakeDeadline } from './helpers.js';

const transient = (extra: Partial<ConstructorParameters<typeof FetcherError>[0]> = {}) =>
  new FetcherError({
    problem: 'MLP failed to list secrets',
    fix: "check MLP's health",
    status: 503,
    retryable: true,
    ...extra,
  });

describe('fetcher/retry', function () {
  describe('backoffMs (full jitter)', function () {
    const policy = { baseMs: 100, capMs: 1000, maxAttempts: 10 };
    it('is uniform below base·2^attempt', function () {
      assert.equal(backoffMs(0, policy, 0.5), 50);
      assert.equal(backoffMs(3, policy, 0.5), 400);
      assert.equal(backoffMs(3, policy, 0), 0);
    });
    it('is capped', function () {
      assert.equal(backoffMs(20, policy, 0.999), 999);
    });
  });

  describe('parseRetryAfter', function () {
    const now = Date.parse('2026-01-01T00:00:00Z');
    it('reads delta-seconds', function () {
      assert.equal(parseRetryAfter('7', now), 7000);
      assert.equal(parseRetryAfter(' 0 ', now), 0);
    });
    it('reads an HTTP-date, never negative', function () {
      assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now), 30_000);
      assert.equal(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now), 0);
    });
    it('ignores what it cannot read', function () {
      assert.equal(parseRetryAfter(null, now), undefined);
      assert.equal(parseRetryAfter('soon', now), undefined);
      assert.equal(parseRetryAfter('-5', now), undefined);
    });
  });

  describe('withRetry', function () {
    it('retries retryable errors with growing jittered waits until success', async function () {
      const clock = new FakeClock();
      clock.randoms = [0.5, 0.5, 0.5];
      let calls = 0;
      const value = await withRetry(
        async (attempt) => {
          assert.equal(attempt, calls++);
          if (attempt < 3) throw transient();
          return 'ok';
        },
        { clock, deadline: fakeDeadline(clock, 60_000) },
      );
      assert.equal(value, 'ok');
      assert.deepEqual(clock.sleeps, [125, 250, 500]);
    });

    it('does not retry a non-retryable error', async function () {
      const clock = new FakeClock();
      const denied = new FetcherError({ problem: 'denied', fix: 'add reader', status: 403 });
      let calls = 0;
      await assert.rejects(
        withRetry(
          async () => {
            calls++;
            throw denied;
          },
          { clock, deadline: fakeDeadline(clock, 60_000) },
        ),
        (err) => err === denied,
      );
      assert.equal(calls, 1);
    });

    it('waits at least Retry-After', async function () {
      const clock = new FakeClock();
      let calls = 0;
      await withRetry(
        async () => {
          if (calls++ === 0) throw transient({ status: 429, retryAfterMs: 3000 });
          return 1;
        },
        { clock, deadline: fakeDeadline(clock, 60_000) },
      );
      assert.deepEqual(clock.sleeps, [3000]);
    });

    it('gives up at once when Retry-After is past the deadline, saying so (exit code 3)', async function () {
      const clock = new FakeClock();
      await assert.rejects(
        withRetry(
          async () => {
            throw transient({ status: 429, retryAfterMs: 120_000 });
          },
          { clock, deadline: fakeDeadline(clock, 60_000) },
        ),
        (err: FetcherError) => {
          assert.equal(err.exitCode, EXIT_CODES.deadline);
          assert.equal(err.status, 429);
          assert.match(
            err.problem,
            /asked to retry after 120 s, past the 60 s deadline; the last attempt failed: MLP failed to list secrets/,
          );
          assert.match(err.fix, /raise DAP_DEADLINE_SECONDS/);
          return true;
        },
      );
      assert.deepEqual(clock.sleeps, []);
    });

    it('never sleeps past the deadline', async function () {
      const clock = new FakeClock();
      clock.randoms = Array(20).fill(0.99);
      let calls = 0;
      await assert.rejects(
        withRetry(
          async () => {
            calls++;
            throw transient();
          },
          { clock, deadline: fakeDeadline(clock, 2000) },
        ),
        /next attempt would start after the 2 s deadline/,
      );
      assert.ok(clock.sleeps.reduce((a, b) => a + b, 0) < 2000);
      assert.ok(calls >= 2);
    });

    it('stops after maxAttempts even when every wait is zero', async function () {
      const clock = new FakeClock();
      clock.randoms = Array(50).fill(0);
      let calls = 0;
      await assert.rejects(
        withRetry(
          async () => {
            calls++;
            throw transient();
          },
          { clock, deadline: fakeDeadline(clock, 60_000) },
        ),
        new RegExp(`gave up after ${DEFAULT_RETRY_POLICY.maxAttempts} attempts`),
      );
      assert.equal(calls, DEFAULT_RETRY_POLICY.maxAttempts);
    });

    it('gives up when the deadline signal has fired', async function () {
      const clock = new FakeClock();
      const controller = new AbortController();
      controller.abort(new Error('deadline'));
      await assert.rejects(
        withRetry(
          async () => {
            throw transient();
          },
          { clock, deadline: fakeDeadline(clock, 60_000, controller) },
        ),
        /deadline passed/,
      );
    });

    it('reports each wait to onRetry', async function () {
      const clock = new FakeClock();
      const seen: [number, number][] = [];
      let calls = 0;
      await withRetry(
        async () => {
          if (calls++ < 2) throw transient();
        },
        { clock, deadline: fakeDeadline(clock, 60_000), onRetry: (_e, attempt, delay) => seen.push([attempt, delay]) },
      );
      assert.deepEqual(seen, [
        [0, 125],
        [1, 250],
      ]);
    });
  });
});
