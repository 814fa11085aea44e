// The release tag, package.json and the chart must tell one version: the images are tagged with
// it and the chart's appVersion picks the webhook image by it.
//   node scripts/release-version.mjs check v1.2.3
// No dependencies (it runs before npm ci in the release workflow).
import { readFileSync } from 'node:fs';

const [command, tag] = process.argv.slice(2);
if (command !== 'check' || !tag) {
  console.error('usage: node scripts/release-version.mjs check vMAJOR.MINOR.PATCH');
  process.exit(2);
}
const wanted = tag.replace(/^v/, '');
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;
const chart = readFileSync(new URL('../deploy/helm/dap-secret-webhook/Chart.yaml', import.meta.url), 'utf8');
const field = (name) => chart.match(new RegExp(`^${name}:\\s*"?([^"\\s]+)"?\\s*$`, 'm'))?.[1];
const found = {
  'package.json version': pkg,
  'Chart.yaml version': field('version'),
  'Chart.yaml appVersion': field('appVersion'),
};
// Artifact Hub lists the images the chart installs (annotation artifacthub.io/images).
for (const m of chart.matchAll(/^\s+image: ghcr\.io\/[\w.-]+\/([\w.-]+):(\S+)$/gm))
  found[`Chart.yaml artifacthub.io/images ${m[1]}`] = m[2];
const wrong = Object.entries(found).filter(([, v]) => v !== wanted);
if (!/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(wanted)) {
  console.error(`release: tag ${tag} is not vMAJOR.MINOR.PATCH`);
  process.exit(1);
}
if (wrong.length > 0) {
  console.error(
    `release: tag ${tag} does not match ${wrong.map(([k, v]) => `${k} ${v}`).join(', ')}; set them all to ${wanted} and tag again`,
  );
  process.exit(1);
}
console.log(`release: ${wanted} everywhere`);
