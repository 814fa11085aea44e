// Bundles the webhook CLI into dist/webhook/: the entry dap-secret-webhook.mjs plus chunks that
// load only when used (the Kubernetes client to register, X.509 for a throw-away certificate,
// render's YAML). It runs with plain `node` and no node_modules; Dockerfile.webhook copies the
// directory. Splitting matters: V8 compiles an ES module's whole source up front, so one big
// file cost ~20 MiB of resident memory for code the server never runs.

import { readFileSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
// Chunk names carry content hashes: without this, every earlier build's chunks stay beside the
// new ones, and Dockerfile.webhook copies the whole directory into the image.
rmSync('dist/webhook', { recursive: true, force: true });
await build({
  entryPoints: { 'dap-secret-webhook': 'webhook/cli.ts' },
  outdir: 'dist/webhook',
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  splitting: true,
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'esm',
  sourcemap: 'linked',
  legalComments: 'external',
  logLevel: 'warning',
  define: { 'process.env.DAP_VERSION': JSON.stringify(pkg.version) },
  // Some dependencies still call require() for Node built-ins; give the ESM bundle one.
  banner: {
    js: [
      "import { createRequire as __dapCreateRequire } from 'node:module'; const require = __dapCreateRequire(import.meta.url);",
      // Older Node fails deep inside a dependency with an unreadable error; say what is needed instead.
      // biome-ignore lint/suspicious/noTemplateCurlyInString: this string is JS source whose template literal runs in the bundle
      "if (Number(process.versions.node.split('.')[0]) < 24) { process.stderr.write(`dap-secret-webhook needs Node.js 24 or newer; this is ${process.version}. In a clone of the repository, run it with the Node 24 that npm ci installed: npx node dist/webhook/dap-secret-webhook.mjs ARGS (or npm run -s cli -- ARGS); elsewhere install Node.js 24 or use the container image.\\n`); process.exit(1); }",
    ].join('\n'),
  },
});
