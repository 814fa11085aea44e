import assert from 'node:assert/strict';
import { Redactor } from '../../../fetcher/redact.js';

describe('fetcher/redact', function () {
  it('masks registered strings, their trimmed and base64 forms', function () {
    const r = new Redactor();
    r.add(' hunter22\n');
    assert.equal(r.apply('pw= hunter22\n!'), 'pw=[redacted]!');
    assert.equal(r.apply('pw=hunter22'), 'pw=[redacted]');
    assert.equal(r.apply(`b64=${Buffer.from(' hunter22\n').toString('base64')}`), 'b64=[redacted]');
  });

  it('masks the longest match first', function () {
    const r = new Redactor();
    r.add('abcd');
    r.add('abcdefgh');
    assert.equal(r.apply('x abcdefgh y abcd'), 'x [redacted] y [redacted]');
  });

  it('ignores strings too short to be secrets', function () {
    const r = new Redactor();
    r.add('abc');
    assert.equal(r.apply('abc abc'), 'abc abc');
  });
});
