import t from 'tap';
import { Acl, parseCidr } from './acl.js';
import { DEFAULT_ALLOW_NETWORKS } from './options.js';

t.test('parseCidr', async (t) => {
  t.same(parseCidr('10.0.0.0/8'), { address: '10.0.0.0', prefix: 8, family: 'ipv4' });
  t.same(parseCidr('::1'), { address: '::1', prefix: 128, family: 'ipv6' });
  for (const bad of ['10.0.0.0/33', 'fc00::/129', 'x/8', '10.0.0.0/', '10.0.0.0/a']) t.equal(parseCidr(bad), null, bad);
});

t.test('default networks', async (t) => {
  const acl = new Acl(DEFAULT_ALLOW_NETWORKS);
  const table: [string, boolean][] = [
    ['127.0.0.1', true], ['10.244.1.7', true], ['172.20.0.1', true], ['172.32.0.1', false], ['192.168.1.1', true],
    ['100.64.0.1', true], ['100.128.0.1', false], ['8.8.8.8', false], ['::1', true], ['fd12::1', true], ['fe80::1%eth0', true],
    ['2001:db8::1', false], ['::ffff:10.0.0.1', true], ['::ffff:8.8.8.8', false], ['garbage', false],
  ];
  for (const [addr, want] of table) t.equal(acl.allows(addr), want, addr);
});

t.test('empty list allows nobody', async (t) => {
  t.equal(new Acl([]).allows('127.0.0.1'), false);
});
