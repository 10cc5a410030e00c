// One kdns per DNS address: a second kdns started on the port a kdns serves exits 2 and names the pid
// that holds it (SO_REUSEPORT would otherwise let it bind beside and split the traffic), the first keeps
// answering every query, and once the first has stopped the address can be served again.

import t from 'tap';
import { freePort } from '../helpers/named.js';
import { runKdns, startKdns } from '../helpers/kdns-process.js';
import { runDig } from './clients.js';

t.test('a second kdns on a served port is refused', async (t) => {
  const port = await freePort();
  const args = ['--listen', `127.0.0.1:${port}`, '--http', 'none', '--workers', '2', '--no-forward', '--hosts', 'test/fixtures/wire/hosts'];
  const first = await startKdns(args, { t });
  const second = await runKdns(args);
  t.equal(second.code, 2, 'exit 2');
  t.match(second.stderr, new RegExp(`127\\.0\\.0\\.1:${port} is already served by kdns pid ${first.pid}`), second.stderr.trim());
  t.ok(first.alive(), 'the first kdns keeps running');
  for (let i = 0; i < 10; i++) {
    const r = await runDig('dig', port, ['version.bind', 'CH', 'TXT', i % 2 === 0 ? '+notcp' : '+tcp']);
    t.equal(r.status, 'NOERROR', `query ${i} answered by the first kdns`);
  }
  t.equal(await first.stop(), 0);
  const third = await startKdns(args, { t });
  t.equal((await runDig('dig', port, ['version.bind', 'CH', 'TXT'])).status, 'NOERROR', 'the port is free again after a stop');
  t.equal(await third.stop(), 0);
});
