import t from 'tap';
import { formatRecord, resolveLogFormat, textDestination } from './log-format.js';
import { createLogger, createStdoutLogger } from './log.js';
import { ConfigError } from './errors.js';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

t.test('auto is text on a terminal and JSON for files and pipes; json and text are kept', async (t) => {
  const cases: Array<[Parameters<typeof resolveLogFormat>[0], boolean, string]> = [
    ['auto', true, 'text'], ['auto', false, 'json'],
    ['json', true, 'json'], ['json', false, 'json'],
    ['text', true, 'text'], ['text', false, 'text'],
  ];
  for (const [format, tty, want] of cases) t.equal(resolveLogFormat(format, tty), want, `${format}, isTTY ${tty}`);
});

t.test('a record becomes time, level, component: msg, key=value', async (t) => {
  const line = formatRecord({
    level: 40, time: '2026-12-03T13:26:03.634Z', pid: 7, component: 'reload', msg: 'needs restart',
    settings: ['tcp', 'listen'], count: 2, ok: false, note: 'two words', file: '/etc/kdns/kdns.yaml',
  });
  t.equal(line, '2026-12-03T13:26:03.634Z WARN  reload: needs restart settings=["tcp","listen"] count=2 ok=false note="two words" file=/etc/kdns/kdns.yaml\n');
});

t.test('our errors show code and message; other errors their stack', async (t) => {
  const ours = formatRecord({ level: 50, time: 'T', msg: 'reload failed', err: { code: 'KDNS_SOURCE_INVALID', message: 'z.zone:7: bad', stack: 'SourceError: x\n    at a (f.js:1:1)' } });
  t.equal(ours, 'T ERROR reload failed err="KDNS_SOURCE_INVALID: z.zone:7: bad"\n');
  const bug = formatRecord({ level: 60, time: 'T', msg: 'crash', err: { message: 'boom', stack: 'Error: boom\n    at f (x.js:1:2)' } });
  t.equal(bug, 'T FATAL crash err=boom\n    at f (x.js:1:2)\n');
});

t.test('a pino logger through the text destination writes readable lines, not JSON', async (t) => {
  let out = '';
  const log = createLogger('info', textDestination({ write: (s: string) => { out += s; } }));
  log.child({ component: 'zonefile' }).info({ records: 4 }, 'zone loaded');
  log.error({ err: new ConfigError('k.yaml', 3, 'workers: expected an integer') }, 'reload failed');
  t.match(out, /^\d{4}-\d\d-\d\dT[\d:.]+Z INFO  zonefile: zone loaded records=4\n/);
  t.match(out, /ERROR reload failed err="KDNS_CONFIG_INVALID: k\.yaml:3: workers: expected an integer"\n$/);
  t.notMatch(out, /[{]"level"/);
});

t.test('createStdoutLogger: JSON to a file, text when the output is a terminal (isTTY injected)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kdns-log-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const written = (format: 'auto' | 'json' | 'text', isTTY: boolean): string => {
    const file = join(dir, `${format}-${isTTY}.log`);
    const fd = openSync(file, 'w');
    createStdoutLogger('info', format, { fd, isTTY }).info({ n: 1 }, 'hello');
    closeSync(fd);
    return readFileSync(file, 'utf8');
  };
  t.match(JSON.parse(written('auto', false)), { level: 30, msg: 'hello', n: 1 }, 'auto, not a terminal: a JSON line');
  t.match(written('auto', true), /^\S+Z INFO  hello n=1\n$/, 'auto, a terminal: a text line');
  t.match(written('text', false), /^\S+Z INFO  hello n=1\n$/, 'text: a text line even into a file');
  t.match(JSON.parse(written('json', true)), { msg: 'hello' }, 'json: JSON even on a terminal');
});
