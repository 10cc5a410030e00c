import t from 'tap';
import { tokenize } from './tokenize.js';

/** Entries as "line|blank|tok tok ..." strings, quoted tokens shown in quotes. */
function show(text: string): string[] {
  return tokenize(text, 'f').map((e) =>
    `${e.line}|${e.blankOwner ? 'B' : '-'}|` + e.tokens.map((k) => (k.quoted ? `"${k.text}"` : k.text)).join(' '));
}

t.test('tokenize: entries, blanks, comments, parentheses, quotes, escapes', async (t) => {
  const cases: [string, string[]][] = [
    ['a A 1.2.3.4\n', ['1|-|a A 1.2.3.4']],
    ['a A 1.2.3.4', ['1|-|a A 1.2.3.4']], // no final newline
    ['\n\n  ; only a comment\n\t\nb A 1.2.3.4 ; trailing\n', ['5|-|b A 1.2.3.4']],
    [' A 1.2.3.4\n\tMX 1 x\n', ['1|B|A 1.2.3.4', '2|B|MX 1 x']],
    ['@ SOA ns hm (\n 1 ; serial\n 2 3\n 4 5 )\nnext A 1.1.1.1\n', ['1|-|@ SOA ns hm 1 2 3 4 5', '5|-|next A 1.1.1.1']],
    ['x TXT "a b;c" "(" ")" ""\n', ['1|-|x TXT "a b;c" "(" ")" ""']],
    ['x TXT "say \\"hi\\""\n', ['1|-|x TXT "say \\"hi\\""']],
    ['a\\ b A 1.2.3.4\n', ['1|-|a\\ b A 1.2.3.4']],
    ['x TXT a\\;b\\(c\n', ['1|-|x TXT a\\;b\\(c']],
    ['x TXT a"b"c\n', ['1|-|x TXT a "b" c']],
    ['x A 1.2.3.4\r\ny A 5.6.7.8\r\n', ['1|-|x A 1.2.3.4', '2|-|y A 5.6.7.8']],
    ['((x)) A 1.2.3.4\n', ['1|-|x A 1.2.3.4']],
    ['x SRV ( 1\n 2 3 ) t\ny A 1.1.1.1\n', ['1|-|x SRV 1 2 3 t', '3|-|y A 1.1.1.1']], // text after ')' stays
    ['', []],
  ];
  for (const [text, want] of cases) t.same(show(text), want, JSON.stringify(text));
});

t.test('tokenize: token lines inside parentheses', async (t) => {
  const [entry] = tokenize('@ SOA ns hm (\n 1\n 2 )\n', 'f');
  t.same(entry!.tokens.map((k) => k.line), [1, 1, 1, 1, 2, 3]);
});

t.test('tokenize: errors name file and line', async (t) => {
  const cases: [string, number, RegExp][] = [
    ['x TXT "open\n', 1, /expected a closing '"'/],
    ['ok A 1.2.3.4\nx TXT "a\\\nb"\n', 2, /expected a closing '"'/],
    ['x A 1.2.3.4 )\n', 1, /expected '\(' before '\)'/],
    ['a A 1.1.1.1\nx SOA ( 1 2\n 3\n', 2, /expected '\)' to close/],
    ['x TXT a\\\n', 1, /expected a character after '\\'/],
  ];
  for (const [text, line, message] of cases) {
    t.throws(() => tokenize(text, 'db.test'), { code: 'KDNS_SOURCE_INVALID', file: 'db.test', line, message }, JSON.stringify(text));
  }
});
