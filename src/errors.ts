// Errors with stable codes. Every code is documented in docs/errors.md; tests and operators match on
// `code`, never on message text. Nothing on the packet path throws: these are for start-up, reloads and
// sources.

export class KdnsError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = new.target.name;
  }
}

function located(file: string | null, line: number | null, message: string): string {
  if (file === null) return message;
  return line === null ? `${file}: ${message}` : `${file}:${line}: ${message}`;
}

/** An error about a place in a file: the message reads "file:line: what was expected". */
export class LocatedError extends KdnsError {
  readonly file: string | null;
  readonly line: number | null;
  constructor(code: string, file: string | null, line: number | null, message: string) {
    super(code, located(file, line, message));
    this.file = file;
    this.line = line;
  }
}

/** A bad flag or config-file value. kdns exits 2 on it. */
export class ConfigError extends LocatedError {
  constructor(file: string | null, line: number | null, message: string) {
    super('KDNS_CONFIG_INVALID', file, line, message);
  }
}

/** A bad line in a zone file, hosts file or other data source. kdns refuses to start on it (exit 2). */
export class SourceError extends LocatedError {
  constructor(file: string | null, line: number | null, message: string) {
    super('KDNS_SOURCE_INVALID', file, line, message);
  }
}

/** A domain name that cannot be represented (label > 63, name > 255, bad escape). */
export class NameError extends KdnsError {
  constructor(message: string) {
    super('KDNS_NAME_INVALID', message);
  }
}

/** RDATA that cannot be encoded (bad address, value out of range). */
export class RdataError extends KdnsError {
  constructor(message: string) {
    super('KDNS_RDATA_INVALID', message);
  }
}
