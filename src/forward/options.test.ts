import t from 'tap';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import {
  forwardOptionsFor, isOwnAddress, parseAddressRule, parseResolvConf, readResolvConf,
} from './options.js';
import type { KdnsConfig } from '../config/types.js';

t.test('address rules', async (t) => {
  t.same(parseAddressRule('/X.Test./::1,1.2.3.4'), [{ domain: 'x.test.', ips: ['::1', '1.2.3.4'] }]);
  t.equal(parseAddressRule('//1.2.3.4'), null);
  t.equal(parseAddressRule('/x.test'), null);
});

t.test('forwardOptionsFor takes routes, upstreams and listen from the config', async (t) => {
  const config = {
    routes: [{ domains: ['a.'], servers: [], localOnly: true }], defaultUpstreams: [{ host: '10.0.0.1', port: 53 }],
    resolvConf: '/x/resolv.conf', listen: [{ host: '127.0.0.1', port: 53 }],
  } as unknown as KdnsConfig;
  const o = forwardOptionsFor(config);
  t.equal(o.routes, config.routes);
  t.equal(o.resolvConf, '/x/resolv.conf');
  t.same(o.listen, [{ host: '127.0.0.1', port: 53 }]);
});

t.test('resolv.conf', async (t) => {
  t.same(parseResolvConf('# c\nnameserver 10.0.0.10\nsearch a b\nnameserver fe80::1%eth0 ; x\nnameserver bogus\noptions ndots:5\n'),
    [{ host: '10.0.0.10', port: 53 }, { host: 'fe80::1', port: 53 }]);
  const dir = mkdtempSync(path.join(tmpdir(), 'kdns-resolv-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'resolv.conf');
  writeFileSync(file, 'nameserver 127.0.0.1\nnameserver 127.0.0.53\nnameserver 10.96.0.10\n');
  const logs: string[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => { logs.push(s); } });
  const got = readResolvConf(file, [{ host: '0.0.0.0', port: 53 }], log);
  t.same(got, [{ host: '10.96.0.10', port: 53 }], 'loopback nameservers on our wildcard :53 dropped');
  t.equal(logs.length, 2);
  t.match(logs[0], /dropped resolv.conf nameserver.*forwarding loop/);
  t.match(logs[0], /127\.0\.0\.1#53/);
  t.same(readResolvConf(file, [{ host: '127.0.0.1', port: 5353 }]), [
    { host: '127.0.0.1', port: 53 }, { host: '127.0.0.53', port: 53 }, { host: '10.96.0.10', port: 53 }], 'other port: kept');
  t.same(readResolvConf(path.join(dir, 'missing'), [], log), []);
  t.match(logs[2], /cannot read resolv.conf/);
});

t.test('isOwnAddress', async (t) => {
  t.equal(isOwnAddress({ host: '127.0.0.1', port: 53 }, [{ host: '127.0.0.1', port: 53 }]), true);
  t.equal(isOwnAddress({ host: '127.0.0.1', port: 54 }, [{ host: '127.0.0.1', port: 53 }]), false);
  t.equal(isOwnAddress({ host: '::1', port: 53 }, [{ host: '::', port: 53 }]), true);
  t.equal(isOwnAddress({ host: '10.200.0.1', port: 53 }, [{ host: '0.0.0.0', port: 53 }]), false);
});
