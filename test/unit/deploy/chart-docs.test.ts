/**
 * The chart's README values table is generated from values.yaml (its comments are the one
 * source): stale means `npm run docs:chart` was not run. Chart.yaml carries the metadata Helm
 * and Artifact Hub show.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
// @ts-expect-error: a plain .mjs script without type declarations
import { README_FILE, VALUES_FILE, valuesTables, withTables } from '../../../scripts/chart-docs.mjs';

const CHART = fileURLToPath(new URL('../../../deploy/helm/dap-secret-webhook/', import.meta.url));
const read = (file: string) => readFileSync(file, 'utf8');

describe('deploy/helm/dap-secret-webhook: README and Chart.yaml', () => {
  it("the README's values table is what values.yaml generates (run `npm run docs:chart` after changing values.yaml)", () => {
    assert.equal(
      read(README_FILE),
      withTables(read(README_FILE), read(VALUES_FILE)),
      'deploy/helm/dap-secret-webhook/README.md is stale: run npm run docs:chart',
    );
  });

  it('every leaf value of values.yaml has a row, with its default', () => {
    const values = parse(read(VALUES_FILE)) as Record<string, unknown>;
    const leaves: [string, unknown][] = [];
    const walk = (obj: Record<string, unknown>, path: string[]) => {
      for (const [k, v] of Object.entries(obj)) {
        if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0)
          walk(v as Record<string, unknown>, [...path, k]);
        else leaves.push([[...path, k].join('.'), v]);
      }
    };
    walk(values, []);
    const table = valuesTables(read(VALUES_FILE)) as string;
    for (const [key, value] of leaves) {
      const shown =
        typeof value === 'string'
          ? value === ''
            ? '`""`'
            : `\`${value.replace(/\s+/g, ' ').trim()}\``
          : `\`${JSON.stringify(value)}\``;
      assert.ok(table.includes(`| \`${key}\` | ${shown} |`), `${key} = ${shown}`);
    }
  });

  it("a comment in values.yaml becomes that value's description; a `# --- Title ---` comment a section", () => {
    const table = valuesTables(
      '# --- Things ---\n\nthings:\n  # How many.\n  count: 3\n  # Where it goes,\n  # over two lines.\n  where: here\n',
    ) as string;
    assert.equal(
      table,
      '### Things\n\n| Value | Default | Description |\n| --- | --- | --- |\n| `things.count` | `3` | How many. |\n| `things.where` | `here` | Where it goes, over two lines. |',
    );
  });

  it('Chart.yaml has home, sources, icon, maintainers and Artifact Hub annotations that parse', () => {
    const chart = parse(read(join(CHART, 'Chart.yaml'))) as Record<string, unknown> & {
      annotations: Record<string, string>;
      version: string;
    };
    for (const field of ['home', 'sources', 'icon', 'maintainers', 'description', 'kubeVersion'])
      assert.ok(chart[field], field);
    assert.match(String(chart.icon), /^https:\/\/.*\/deploy\/helm\/dap-secret-webhook\/icon\.svg$/);
    assert.ok(existsSync(join(CHART, 'icon.svg')), 'the icon the URL points at is in the repository');
    const images = parse(chart.annotations['artifacthub.io/images']!) as { name: string; image: string }[];
    assert.deepEqual(
      images.map((i) => i.image),
      [
        `ghcr.io/caraml-dev/dap-secret-webhook:${chart.version}`,
        `ghcr.io/caraml-dev/dap-secret-fetcher:${chart.version}`,
      ],
    );
    assert.ok(
      (parse(chart.annotations['artifacthub.io/links']!) as { url: string }[]).every((l) =>
        l.url.startsWith('https://'),
      ),
    );
    assert.equal(chart.annotations['artifacthub.io/license'], 'Apache-2.0');
  });
});
