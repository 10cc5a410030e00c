import t from 'tap';
import { RouteTable } from './routes.js';

const up = (s: { host: string; port: number }) => (s.port === 53 && s.host === '127.0.0.9' ? null : `${s.host}#${s.port}`);

t.test('longest suffix, several domains per route, local-only, address, defaults', async (t) => {
  const table = new RouteTable<string>([
    { domains: ['cna.'], servers: [{ host: '10.0.0.1', port: 53 }], localOnly: false },
    { domains: ['ops.cna.', 'dev.cna.'], servers: [{ host: '10.0.0.2', port: 5353 }], localOnly: false },
    { domains: ['ops.cna.'], servers: [{ host: '10.0.0.3', port: 53 }], localOnly: false },
    { domains: ['secret.ops.cna.'], servers: [], localOnly: true },
    { domains: ['pub.cna.'], servers: [], localOnly: false },
    { domains: ['self.cna.'], servers: [{ host: '127.0.0.9', port: 53 }], localOnly: false },
  ], [{ domain: 'x.test.', ips: ['1.2.3.4', '::1'] }], ['192.0.2.1#53'], up);
  const m = (k: string) => table.match(k);
  t.same(m('a.b.cna.'), { kind: 'forward', domain: 'cna.', upstreams: ['10.0.0.1#53'] });
  t.same(m('ops.cna.'), { kind: 'forward', domain: 'ops.cna.', upstreams: ['10.0.0.2#5353', '10.0.0.3#53'] }, 'servers merged');
  t.same(m('x.dev.cna.').kind === 'forward' && (m('x.dev.cna.') as { upstreams: string[] }).upstreams, ['10.0.0.2#5353']);
  t.same(m('a.secret.ops.cna.'), { kind: 'local', domain: 'secret.ops.cna.' });
  t.same((m('www.pub.cna.') as { upstreams: string[] }).upstreams, ['192.0.2.1#53'], '/pub.cna/# uses the defaults');
  t.same((m('self.cna.') as { upstreams: string[] }).upstreams, [], 'refused server dropped');
  const addr = m('a.x.test.');
  t.equal(addr.kind, 'address');
  t.equal(addr.kind === 'address' && addr.v4.length + addr.v6.length, 2);
  t.equal(m('elsewhere.org.'), table.defaultRule);
  t.equal(m('xcna.').domain, '.', 'label-wise, not string-wise');
  t.same(table.allUpstreams().sort(), ['10.0.0.1#53', '10.0.0.2#5353', '10.0.0.3#53', '192.0.2.1#53']);
});
