// docs/configuration.md is written by hand; this keeps it from missing a setting.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { OPTIONS } from './options.js';

const doc = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');

/** `listen`, `tcp: {idle-timeout}`, `forward: {cache: {prefetch: {min-hits}}}`. */
function keyText(key: readonly string[]): string {
  return key.length === 1 ? key[0] : `${key[0]}: {${keyText(key.slice(1))}}`;
}

t.test('every flag and key is documented with its default', async (t) => {
  for (const o of OPTIONS) {
    const row = doc.split('\n').find((l) => l.startsWith('|') && l.split('|')[1].includes(`\`--${o.flag}\``));
    t.ok(row, `--${o.flag} has a row`);
    if (!row) continue;
    if (o.key !== null) {
      const key = `\`${keyText(o.key)}\``;
      t.ok(row.includes(key), `${o.flag} row names key ${key}`);
    }
    if (/^\d/.test(o.defaultText) || o.defaultText === 'auto' || o.defaultText === 'info') {
      t.ok(row.includes(`\`${o.defaultText}\``), `${o.flag} row gives default ${o.defaultText}`);
    }
  }
});
