import { strict as assert } from 'node:assert';
import { parse } from 'yaml';
import { render } from '../../../webhook/render.js';
import { GOLDEN_CASES, goldenConfig, goldenSetProblems, goldenUid, loadGolden, readGoldenInput, updatingGoldens, writeGolden } from '../../support/goldens.js';

describe('golden pods through the admission code (in-process render)', () => {
  const config = goldenConfig();

  it('has no stale, unused or incomplete golden directories', () => {
    assert.deepEqual(goldenSetProblems(), []);
  });

  for (const name of GOLDEN_CASES) {
    it(name, () => {
      const result = render(readGoldenInput(name), config, { uid: goldenUid(name), output: 'yaml' });
      if (updatingGoldens) writeGolden(name, { text: result.text, denied: result.denied, warnings: result.result.warnings });
      const golden = loadGolden(name);
      if (golden.expected.kind === 'denied') {
        assert.equal(result.denied, golden.expected.message);
      } else {
        assert.equal(result.denied, null, `unexpected denial: ${result.denied}`);
        assert.deepEqual(parse(result.text), golden.expected.pod);
      }
      assert.deepEqual(result.result.warnings, golden.warnings);
    });
  }
});
