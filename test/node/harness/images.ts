/**
 * The images the node runs: the webhook and fetcher built from our Dockerfiles with buildah on
 * stand-in bases from Debian packages, and the flytekit task image (test/e2e/provision/images.sh,
 * cached), as OCI archives for `ctr images import`. run.sh provisions them outside the network
 * namespace (the task image's wheels come from PyPI) and passes the list in DAP_NODE_IMAGES.
 */
import { readFile } from 'node:fs/promises';

interface NodeImage {
  /** The name the archive stores the image under (the chart's defaults for webhook and fetcher). */
  image: string;
  archive: string;
}

export interface NodeImages {
  webhook: NodeImage;
  fetcher: NodeImage;
  task: NodeImage;
}

export async function nodeImages(): Promise<NodeImages> {
  const list = process.env.DAP_NODE_IMAGES;
  if (!list)
    throw new Error('DAP_NODE_IMAGES is not set: run the real-node tier with `npm run test:node` (test/node/run.sh)');
  const rows = (await readFile(list, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => l.split('\t'));
  const pick = (role: string): NodeImage => {
    const row = rows.find((r) => r[0] === role);
    if (!row?.[1] || !row[2]) throw new Error(`test/e2e/provision/images.sh listed no ${role} image (${list})`);
    return { image: row[1], archive: row[2] };
  };
  return { webhook: pick('webhook'), fetcher: pick('fetcher'), task: pick('task') };
}
