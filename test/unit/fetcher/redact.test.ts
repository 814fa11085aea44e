import assert from 'node:assert/strict';
import { Redactor } from '../../../fetcher/redact.js';

describe('fetcher/redact', function () {
  it('masks registered strings and their trimmed forms', function () {
    const r = new Redactor();
    r.add(' hunter22\n');
    assert.equal(r.apply('pw= hunter22\n!'), 'pw=[redacted]!');
    assert.equal(r.apply('pw=hunter22'), 'pw=[redacted]');
  });

  it('masks the JSON-escaped spelling, as a peer echoing JSON would write it', function () {
    const r = new Redactor();
    r.add('pa"ss\\wo\nrd');
    assert.equal(
      r.apply(`body {"error":"bad ${JSON.stringify('pa"ss\\wo\nrd').slice(1, -1)}"}`),
      'body {"error":"bad [redacted]"}',
    );
  });

  it('masks the longest match first', function () {
    const r = new Redactor();
    r.add('abcdefgh');
    r.add('abcdefghijkl');
    assert.equal(r.apply('x abcdefghijkl y abcdefgh'), 'x [redacted] y [redacted]');
  });

  it('ignores values shorter than 8 characters (trimmed): masking them would mark ordinary words and give the value away', function () {
    const r = new Redactor();
    for (const short of ['abc', 'info', 'a-b-c-d', ' 1234567 \n']) r.add(short);
    assert.equal(r.apply('abc info a-b-c-d 1234567'), 'abc info a-b-c-d 1234567');
    r.add('12345678');
    assert.equal(r.apply('pin 12345678'), 'pin [redacted]');
  });
});
