// Names and answer templates for the shared-table thread tests.

/** Lower-case wire form of a dotted name. */
export function wireName(name: string): Buffer {
  const parts = name.split('.').filter(Boolean).map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  return Buffer.concat([...parts, Buffer.from([0])]);
}

/** A minimal answer template (header, question, no records) for `name` type A. */
export function answerTemplate(name: Buffer): Buffer {
  const header = Buffer.from([0, 0, 0x84, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([header, name, Buffer.from([0, 1, 0, 1])]);
}
