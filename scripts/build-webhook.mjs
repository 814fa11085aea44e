// Bundles the webhook CLI into one ESM file (dist/dap-secret-webhook.mjs) that runs with plain
// `node` and no node_modules: that single file is what Dockerfile.webhook copies.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
await build({
  entryPoints: ['webhook/cli.ts'],
  outfile: 'dist/dap-secret-webhook.mjs',
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'esm',
  minify: true,
  keepNames: true,
  sourcemap: 'linked',
  legalComments: 'external',
  logLevel: 'warning',
  define: { 'process.env.DAP_VERSION': JSON.stringify(pkg.version) },
  // Some dependencies still call require() for Node built-ins; give the ESM bundle one.
  banner: {
    js: [
      "import { createRequire as __dapCreateRequire } from 'node:module'; const require = __dapCreateRequire(import.meta.url);",
      // Older Node fails deep inside a dependency with an unreadable error; say what is needed instead.
      "if (Number(process.versions.node.split('.')[0]) < 24) { process.stderr.write(`dap-secret-webhook needs Node.js 24 or newer; this is ${process.version}\\n`); process.exit(1); }",
    ].join('\n'),
  },
});
