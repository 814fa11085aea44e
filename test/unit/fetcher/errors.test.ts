import assert from 'node:assert/strict';
import { asFetcherError, EXIT_CODES, FetcherError, listNames, renderReport } from '../../../fetcher/errors.js';

describe('fetcher/errors', function () {
  const denied = new FetcherError({
    problem: 'MLP denied project `ads` to identity `system:serviceaccount:ads:runner`',
    fix: 'add `system:serviceaccount:ads:runner` to the readers of MLP project `ads`',
    status: 403,
  });

  it('renders one paragraph naming pod, project, secrets, status and the fix', function () {
    const report = renderReport(denied, { pod: 'ads/wf-n0-0', project: 'ads', secrets: ['token', 'password'] });
    assert.equal(
      report,
      'dap-secret-fetcher failed (pod `ads/wf-n0-0`, MLP project `ads`, secrets `token`, `password`): ' +
        'MLP denied project `ads` to identity `system:serviceaccount:ads:runner` (HTTP 403). ' +
        'Add `system:serviceaccount:ads:runner` to the readers of MLP project `ads`.',
    );
  });

  it('names the secrets the error is about rather than all requested ones', function () {
    const missing = new FetcherError({ problem: 'secret `b` not found', fix: 'create it', secrets: ['b'] });
    assert.match(
      renderReport(missing, { pod: 'ns/p', project: 'p', secrets: ['a', 'b'] }),
      /\(pod `ns\/p`, MLP project `p`, secret `b`\)/,
    );
  });

  it('works with no context and keeps newlines out', function () {
    const e = new FetcherError({ problem: 'line one\nline two.', fix: 'fix it' });
    assert.equal(renderReport(e, {}), 'dap-secret-fetcher failed: line one line two. Fix it.');
  });

  it('lists at most 20 names, then "and N more"', function () {
    const names = Array.from({ length: 23 }, (_, i) => `s${i}`);
    assert.match(listNames(names), /`s19` and 3 more$/);
  });

  it('stays inside the 4096-byte termination message limit', function () {
    const e = new FetcherError({ problem: 'x'.repeat(10_000), fix: 'y' });
    assert.ok(Buffer.byteLength(renderReport(e, {})) <= 3800);
  });

  it('turns anything else into a bug report without a stack', function () {
    const e = asFetcherError(new RangeError('boom'));
    assert.equal(e.exitCode, EXIT_CODES.failed);
    assert.match(e.problem, /unexpected internal error \(RangeError: boom\)/);
    assert.equal(asFetcherError(denied), denied);
  });
});
