// ownAddresses: listen addresses as given; wildcards expand to the interfaces' non-loopback addresses.
import t from 'tap';
import type { NetworkInterfaceInfo } from 'node:os';
import { ownAddresses } from './own-addresses.js';

const info = (address: string, family: 'IPv4' | 'IPv6', internal = false): NetworkInterfaceInfo =>
  ({ address, family, internal, netmask: '', mac: '', cidr: null, ...(family === 'IPv6' ? { scopeid: 0 } : {}) }) as NetworkInterfaceInfo;
const IFACES = {
  lo: [info('127.0.0.1', 'IPv4', true), info('::1', 'IPv6', true)],
  eth0: [info('10.244.0.2', 'IPv4'), info('fd00:244::2', 'IPv6'), info('fe80::1', 'IPv6')],
};

t.same(ownAddresses([{ host: '127.0.0.1', port: 53 }], IFACES), ['127.0.0.1'], 'a given address, loopback or not');
t.same(ownAddresses([{ host: '169.254.20.10', port: 53 }, { host: 'FD00::10', port: 53 }], IFACES), ['169.254.20.10', 'fd00::10'], 'canonical');
t.same(ownAddresses([{ host: '0.0.0.0', port: 53 }], IFACES), ['10.244.0.2'], '0.0.0.0: IPv4 interface addresses, no loopback');
t.same(ownAddresses([{ host: '0.0.0.0', port: 53 }, { host: '::', port: 53 }], IFACES), ['10.244.0.2', 'fd00:244::2'], ':: adds IPv6, no link-local');
t.same(ownAddresses([{ host: '10.244.0.2', port: 53 }, { host: '0.0.0.0', port: 5353 }], IFACES), ['10.244.0.2'], 'no duplicates');
