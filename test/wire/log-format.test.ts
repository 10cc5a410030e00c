// --log-format seen from outside: a child told `--log-format text` prints readable lines (time, level,
// component: message, key=value) and no JSON; the default into a pipe stays JSON (every other wire test
// parses it). A terminal cannot be faked here; the auto decision is unit-tested in src/log-format.test.ts.
import t from 'tap';
import { spawn } from 'node:child_process';
import { CLI_PATH, REPO_ROOT, engineArgs, fixture } from '../helpers/kdns-process.js';
import { buildQuery, check, UdpClient } from './clients.js';

t.test('--log-format text: readable lines, and the server answers', async (t) => {
  const child = spawn(process.execPath, [
    CLI_PATH, ...engineArgs(), '--log-format', 'text', '--listen', '127.0.0.1:0', '--http', 'none', '--no-forward',
    '--zone-file', `${fixture('wire', 'example.zone')}@example.test`,
  ], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  let out = '';
  child.stdout.setEncoding('utf8');
  const serving = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "serving" line within 30 s:\n${out}`)), 30_000);
    child.stdout.on('data', (d: string) => {
      out += d;
      const line = out.split('\n').find((l) => / INFO {2}serving /.test(l));
      if (line !== undefined) {
        clearTimeout(timer);
        resolve(line);
      }
    });
  });
  t.match(serving, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO {2}serving listen=\[\{"address":"127\.0\.0\.1","port":\d+\}\] engine=\w+ /, 'time, level, message, key=value');
  t.match(out, /INFO {2}zonefile: zone loaded file=\S+example\.zone origin=example\.test\. records=\d+/, 'component lines too');
  t.notMatch(out, /^\{/m, 'no JSON line');
  const port = Number(/"port":(\d+)/.exec(serving)![1]);
  const u = new UdpClient(port);
  await u.bind();
  const r = await u.query(buildQuery('www.example.test', 'A'));
  u.close();
  t.equal(r === null ? -1 : check(r).rcode, 0, 'answers');
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'exit 0 on SIGTERM');
  t.match(out, /INFO {2}stopped\n$/, 'the last line is readable too');
});
