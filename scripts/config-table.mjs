// Prints the README's configuration table from webhook/config.ts (CONFIG_VARS), so the docs
// cannot drift from the code: `node --import tsx scripts/config-table.mjs`.
const { CONFIG_VARS } = await import('../webhook/config.ts');
const esc = (s) => s.replace(/\|/g, '\\|');
console.log('| Variable | Default | Meaning |\n| --- | --- | --- |');
for (const v of CONFIG_VARS)
  console.log(`| \`${v.name}\` | ${v.default === '' ? '' : `\`${v.default}\``} | ${esc(v.description)} |`);
