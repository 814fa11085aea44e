import assert from 'node:assert/strict';
import { jsonLogger } from '../../../fetcher/log.js';
import { Redactor } from '../../../fetcher/redact.js';

describe('fetcher/log', function () {
  const fixed = () => new Date('2026-01-02T03:04:05.000Z');

  it('writes one JSON object per line with time, level, message and fields', function () {
    const lines: string[] = [];
    const log = jsonLogger({ write: (l) => lines.push(l) }, new Redactor(), fixed).child({ pod: 'ns/p' });
    log.info('http call', { status: 200, durationMs: 12 });
    log.warn('retrying', { attempt: 1 });
    assert.deepEqual(
      lines.map((l) => JSON.parse(l)),
      [
        { time: '2026-01-02T03:04:05.000Z', level: 'info', msg: 'http call', pod: 'ns/p', status: 200, durationMs: 12 },
        { time: '2026-01-02T03:04:05.000Z', level: 'warn', msg: 'retrying', pod: 'ns/p', attempt: 1 },
      ],
    );
    assert.ok(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n')));
  });

  it('redacts registered values, including ones JSON would escape', function () {
    const lines: string[] = [];
    const redactor = new Redactor();
    redactor.add('s3cr"et\nvalue');
    const log = jsonLogger({ write: (l) => lines.push(l) }, redactor, fixed);
    log.error('failed', { report: 'peer said s3cr"et\nvalue', list: ['s3cr"et\nvalue'] });
    assert.doesNotMatch(lines.join(''), /s3cr/);
    assert.equal(JSON.parse(lines[0] as string).report, 'peer said [redacted]');
  });

  it('never redacts time, level, message or field names, whatever the secret values are', function () {
    const lines: string[] = [];
    const redactor = new Redactor();
    // MLP values that happen to equal parts of the line's structure.
    for (const value of [
      'info',
      'warn',
      'error',
      'http call',
      'retrying',
      '2026-01-02T03:04:05.000Z',
      'durationMs',
      '"level":"info"',
      '{"time":',
    ]) {
      redactor.add(value);
    }
    const log = jsonLogger({ write: (l) => lines.push(l) }, redactor, fixed);
    log.info('http call', { durationMs: 12, peer: 'MLP' });
    log.warn('retrying', { reason: 'MLP said: the value http call is wrong' });
    assert.deepEqual(
      lines.map((l) => JSON.parse(l)),
      [
        { time: '2026-01-02T03:04:05.000Z', level: 'info', msg: 'http call', durationMs: 12, peer: 'MLP' },
        // Field values are still masked (a peer may echo a value there)...
        {
          time: '2026-01-02T03:04:05.000Z',
          level: 'warn',
          msg: 'retrying',
          reason: 'MLP said: the value [redacted] is wrong',
        },
      ],
    );
  });

  it('a field cannot replace time, level or message', function () {
    const lines: string[] = [];
    const log = jsonLogger({ write: (l) => lines.push(l) }, new Redactor(), fixed).child({ level: 'debug' });
    log.error('failed', { msg: 'other', time: 'then', status: 500 });
    assert.deepEqual(JSON.parse(lines[0] as string), {
      time: '2026-01-02T03:04:05.000Z',
      level: 'error',
      msg: 'failed',
      status: 500,
    });
  });

  it('a short value is not masked, so ordinary words stay readable and do not give it away', function () {
    const lines: string[] = [];
    const redactor = new Redactor();
    redactor.add('info');
    redactor.add('MLP');
    const log = jsonLogger({ write: (l) => lines.push(l) }, redactor, fixed);
    log.info('start', { peer: 'MLP', report: 'see info' });
    assert.deepEqual(JSON.parse(lines[0] as string), {
      time: '2026-01-02T03:04:05.000Z',
      level: 'info',
      msg: 'start',
      peer: 'MLP',
      report: 'see info',
    });
    assert.doesNotMatch(lines[0] as string, /redacted/);
  });
});
