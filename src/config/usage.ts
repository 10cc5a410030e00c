// --help text, generated from the option table so that every flag is listed with its default.

import { OPTIONS } from './options.js';

const WIDTH = 100;

function wrap(text: string, indent: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && indent + line.length + 1 + word.length > WIDTH) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  lines.push(line);
  return lines;
}

export function usage(): string {
  const rows = OPTIONS.map((o) => {
    const names = (o.short ? `-${o.short}, ` : '') + `--${o.flag}` + (o.arg ? ` ${o.arg}` : '');
    // Switches are off unless given; saying "default false" on each would be noise.
    const showDefault = o.arg !== undefined && o.defaultText !== 'none';
    const notes = [o.repeatable ? 'repeatable' : '', showDefault ? `default ${o.defaultText}` : '']
      .filter((s) => s !== '').join('; ');
    return { names, text: o.help + (notes ? ` (${notes})` : '') };
  });
  rows.push({ names: '-h, --help', text: 'print this help and exit' });
  rows.push({ names: '--version', text: 'print the version and exit' });
  const col = 2 + Math.min(32, Math.max(...rows.map((r) => r.names.length))) + 2;
  const out: string[] = [];
  for (const r of rows) {
    const text = wrap(r.text, col);
    if (r.names.length + 4 > col) out.push(`  ${r.names}`);
    else out.push(`  ${r.names.padEnd(col - 2)}${text.shift()}`);
    for (const t of text) out.push(' '.repeat(col) + t);
  }
  return [
    'Usage: kdns [-c kdns.yaml] [flags]',
    '',
    'Authoritative and forwarding DNS for Kubernetes. Flags override the config file; every flag',
    'is also a config-file key (--tcp-idle-timeout is tcp: {idle-timeout: ...}).',
    '',
    ...out,
    '',
    'Exit codes: 0 clean shutdown, 2 configuration error, 1 otherwise.',
    '',
  ].join('\n');
}
