import t from 'tap';
import { Writable } from 'node:stream';
import { componentLogger, createLogger } from './log.js';
import { ConfigError } from './errors.js';

function capture(): { lines: Record<string, unknown>[]; stream: Writable } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { lines, stream };
}

t.test('JSON lines with level, time, component and error code', async (t) => {
  const { lines, stream } = capture();
  const log = createLogger('info', stream);
  componentLogger(log, 'zone').info({ records: 3 }, 'loaded');
  log.debug('hidden at info');
  log.error({ err: new ConfigError('f.yaml', 2, 'bad') }, 'failed');
  await new Promise((r) => setImmediate(r));
  t.equal(lines.length, 2);
  t.match(lines[0], { level: 30, component: 'zone', records: 3, msg: 'loaded', pid: process.pid });
  t.match(lines[0].time, /^\d{4}-\d\d-\d\dT/);
  t.match(lines[1], { level: 50, err: { code: 'KDNS_CONFIG_INVALID', message: 'f.yaml:2: bad' } });
});

t.test('silent logs nothing', async (t) => {
  const { lines, stream } = capture();
  createLogger('silent', stream).fatal('x');
  await new Promise((r) => setImmediate(r));
  t.equal(lines.length, 0);
});
