import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { render } from '../../../webhook/render.js';
import {
  goldenCaseNames,
  goldenCaseProblems,
  goldenConfig,
  goldenUid,
  loadGolden,
  readGoldenConfig,
  readGoldenInput,
  updatingGoldens,
  writeGolden,
} from '../../support/goldens.js';

describe('golden pods through the admission code (in-process render)', () => {
  const names = goldenCaseNames();

  it('finds the cases on disk', () => {
    assert.ok(names.length >= 25, `only ${names.length} cases under test/goldens`);
  });

  for (const name of names) {
    it(name, () => {
      const result = render(readGoldenInput(name), goldenConfig(readGoldenConfig(name)), {
        uid: goldenUid(name),
        output: 'yaml',
      });
      if (updatingGoldens)
        writeGolden(name, { text: result.text, denied: result.denied, warnings: result.result.warnings });
      assert.deepEqual(goldenCaseProblems(name), []);
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

describe('golden case checker', () => {
  let root: string;
  const make = (name: string, files: Record<string, string>) => {
    mkdirSync(join(root, name));
    for (const [f, text] of Object.entries(files)) writeFileSync(join(root, name, f), text);
  };
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'goldens-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('accepts a complete case', () => {
    make('ok', {
      'input.yaml': 'kind: Pod\n',
      'expected.yaml': 'kind: Pod\n',
      'config.yaml': 'env:\n  DEFAULT_MOUNT_TYPE: ENV_VAR\n',
    });
    assert.deepEqual(goldenCaseProblems('ok', root), []);
  });

  it('flags stale, unused and malformed files', () => {
    make('bad', {
      'expected.yaml': 'kind: Pod\n',
      'denied.txt': 'no\n',
      'expected.yml': '',
      'warnings.txt': '\n',
      'config.yaml': 'envs: {}\nenv:\n  DEFAULT_MOUNT_TYPE: SOMETIMES\n',
    });
    assert.deepEqual(goldenCaseProblems('bad', root), [
      'test/goldens/bad/input.yaml is missing',
      'test/goldens/bad needs exactly one of expected.yaml, denied.txt (has 2)',
      'test/goldens/bad/expected.yml is not a golden file (input.yaml, expected.yaml, denied.txt, warnings.txt, config.yaml)',
      'test/goldens/bad/warnings.txt is empty: delete it',
      'test/goldens/bad/config.yaml: unknown key "envs" (about, env, flyteTask)',
      'test/goldens/bad/config.yaml env: DEFAULT_MOUNT_TYPE="SOMETIMES" must be one of FILE, ENV_VAR',
    ]);
  });

  it('wants env values as strings', () => {
    make('numbers', {
      'input.yaml': 'kind: Pod\n',
      'denied.txt': 'x\n',
      'config.yaml': 'env:\n  FETCHER_RUN_AS_USER: 1000\n',
    });
    assert.deepEqual(goldenCaseProblems('numbers', root), [
      'test/goldens/numbers/config.yaml: env must map setting names to strings (quote numbers and booleans)',
    ]);
  });
});
