import t from 'tap';
import { reverseName } from './reverse.js';

t.test('reverseName: IPv4 and IPv6 PTR owners', async (t) => {
  const cases: [string, string][] = [
    ['10.1.2.3', '3.2.1.10.in-addr.arpa.'],
    ['0.0.0.0', '0.0.0.0.in-addr.arpa.'],
    ['255.255.255.255', '255.255.255.255.in-addr.arpa.'],
    ['4321:0:1:2:3:4:567:89ab', // the RFC 3596 §2.5 example
      'b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa.'],
    ['::1', '1.' + '0.'.repeat(31) + 'ip6.arpa.'],
    ['::ffff:10.0.0.1', '1.0.0.0.0.0.a.0.f.f.f.f.' + '0.'.repeat(20) + 'ip6.arpa.'],
  ];
  for (const [ip, key] of cases) t.equal(reverseName(ip), key, ip);
  // Two spellings of one address give one key.
  t.equal(reverseName('FD00:0:0::1'), reverseName('fd00::0001'));
});

t.test('reverseName rejects what is not an address', async (t) => {
  for (const bad of ['1.2.3', '1.2.3.256', 'fe80::1%eth0', 'example.com', '', '1::2::3']) {
    t.throws(() => reverseName(bad), { code: 'KDNS_RDATA_INVALID' }, bad);
  }
});
