// rdataA parses dotted quads by hand: it must accept exactly what node:net's isIPv4 accepts.

import t from 'tap';
import { isIPv4 } from 'node:net';
import { rdataA } from './rdata.js';

t.test('rdataA accepts exactly the dotted quads isIPv4 accepts, with the same bytes', async (t) => {
  const cases = [
    '0.0.0.0', '10.1.2.3', '255.255.255.255', '192.168.0.10', '1.02.3.4', '01.2.3.4', '256.1.1.1', '1.2.3',
    '1.2.3.4.5', '1..2.3', '.1.2.3', '1.2.3.', '', '1.2.3.4 ', ' 1.2.3.4', '1.2.3.a', '1.2.3.1000', '::1',
    '1.2.3.-4', '1.2.3.4/8', '0.0.0.00', '100.200.250.199',
  ];
  for (const text of cases) {
    if (isIPv4(text)) t.same([...rdataA(text)], text.split('.').map(Number), `'${text}' parsed`);
    else t.throws(() => rdataA(text), /expected an IPv4 address/, `'${text}' refused`);
  }
});
