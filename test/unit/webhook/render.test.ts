import { strict as assert } from 'node:assert';
import { parse } from 'yaml';
import { RenderInputError, render } from '../../../webhook/render.js';
import { goldenConfig, readGoldenInput } from '../../support/goldens.js';

describe('render input kinds', () => {
  const config = goldenConfig();
  const filePod = parse(readGoldenInput('file-single')) as Record<string, unknown>;

  it('takes a pod as Flyte\'s Go code serialises it (kind "pod") and injects as for kind Pod', () => {
    const asFlyte = render(JSON.stringify({ ...filePod, kind: 'pod' }), config, { uid: 'u' });
    const asApi = render(JSON.stringify(filePod), config, { uid: 'u' });
    assert.equal(asFlyte.denied, null);
    assert.ok(asFlyte.result.review.response && (asFlyte.result.review.response as { patch?: string }).patch);
    assert.deepEqual({ ...(JSON.parse(asFlyte.text) as object), kind: 'Pod' }, JSON.parse(asApi.text));
  });

  it('names any other kind', () => {
    assert.throws(
      () => render(JSON.stringify({ ...filePod, kind: 'Deployment' }), config),
      (err: Error) =>
        err instanceof RenderInputError && err.message === 'expected kind Pod or AdmissionReview, got "Deployment"',
    );
    assert.throws(() => render(JSON.stringify({ ...filePod, kind: 'POD' }), config), RenderInputError);
  });
});
