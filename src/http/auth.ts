// Bearer-token checks for the HTTP endpoints that change state (record writes, cache flush). Without a
// token file every such request is refused (403): a mutating endpoint is never open by default.

import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { ConfigError } from '../errors.js';

/** 0 = allowed; otherwise the HTTP status to answer with. */
export type AuthVerdict = 0 | 401 | 403;

export class BearerAuth {
  private readonly digest: Buffer | null;

  constructor(token: string | null) {
    this.digest = token === null ? null : sha256(token);
  }

  /** Reads the token (the file's first line, trimmed); throws ConfigError naming the file. */
  static fromFile(file: string | null): BearerAuth {
    if (file === null) return new BearerAuth(null);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError(file, null, `cannot read the API token file: ${(e as Error).message}`);
    }
    const token = text.split('\n', 1)[0]!.trim();
    if (token.length < 16) throw new ConfigError(file, 1, 'expected an API token of at least 16 characters on the first line');
    return new BearerAuth(token);
  }

  get enabled(): boolean {
    return this.digest !== null;
  }

  check(req: IncomingMessage): AuthVerdict {
    if (this.digest === null) return 403;
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (m === null) return 401;
    // Compare digests, so the comparison takes the same time whatever the length of what was sent.
    return timingSafeEqual(sha256(m[1]!), this.digest) ? 0 : 401;
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
