import t from 'tap';
import { CONTROL_READY, CONTROL_STOP, DNSTAP_CONTENT_TYPE, FrameReader, controlFrame } from './frame-streams.js';

t.test('control frames: the bytes fstrm expects, read back whole or byte by byte', async (t) => {
  const ready = controlFrame(CONTROL_READY, [DNSTAP_CONTENT_TYPE]);
  // escape, length 34 = type 4 + field type 4 + field length 4 + 22 bytes of content type
  t.strictSame([...ready.subarray(0, 16)], [0, 0, 0, 0, 0, 0, 0, 34, 0, 0, 0, 4, 0, 0, 0, 1]);
  const data = Buffer.from([0, 0, 0, 3, 7, 8, 9]);
  const stream = Buffer.concat([ready, data, controlFrame(CONTROL_STOP)]);
  const whole = new FrameReader().push(stream);
  t.strictSame(whole, [
    { kind: 'control', type: CONTROL_READY, contentTypes: [DNSTAP_CONTENT_TYPE] },
    { kind: 'data', payload: Buffer.from([7, 8, 9]) },
    { kind: 'control', type: CONTROL_STOP, contentTypes: [] },
  ]);
  const reader = new FrameReader();
  const piecewise = [];
  for (const byte of stream) piecewise.push(...reader.push(Buffer.from([byte])));
  t.strictSame(piecewise, whole);
});

t.test('a control frame that is not one throws', async (t) => {
  t.throws(() => new FrameReader().push(Buffer.from([0, 0, 0, 0, 0, 0, 0xff, 0xff])), /control frame of/);
  t.throws(() => new FrameReader().push(Buffer.from([0, 0, 0, 0, 0, 0, 0, 12, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 9])), /runs past/);
});
