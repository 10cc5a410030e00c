// Order of multi-record answers per name (JD's KDNS: fixed, round-robin, random). Applied on the
// responder's slow path to a fresh lookup result; an answer whose order turns per query is never kept
// in the answer table, so neither the JS table nor its C copy (native/answer_cache.c) ever replays one
// order: every query for such a name is looked up and compiled in JavaScript (see src/policy/README.md).

import type { LookupResult, Rr } from '../dns/types.js';
import { PolicyTable, type AnswerPolicy } from './rules.js';

export class AnswerOrder {
  /** Per owner and type ("name type"): how far round-robin has turned. Bounded by the names policies cover. */
  private readonly turns = new Map<string, number>();

  constructor(private readonly table: PolicyTable, private readonly random: () => number = Math.random) {}

  /** Whether any name has a turning order (otherwise the responder need not call `apply`). */
  get active(): boolean {
    return this.table.rotating;
  }

  /**
   * Reorders each run of records of one RRset in the answer section whose owner's policy
   * turns. Returns true when it did: that answer must not be cached.
   */
  apply(result: LookupResult): boolean {
    // A copy: the lookup's arrays may be shared with the data it came from (local stores).
    const answer = [...result.answer];
    let turned = false;
    for (let start = 0; start < answer.length;) {
      const first = answer[start]!;
      let end = start + 1;
      while (end < answer.length && answer[end]!.name === first.name && answer[end]!.type === first.type) end++;
      if (end - start > 1) {
        const mode = this.table.match(first.name)?.order ?? 'fixed';
        if (mode !== 'fixed') {
          const run = answer.slice(start, end);
          const ordered = mode === 'random' ? this.shuffled(run) : this.rotated(run, `${first.name} ${first.type}`);
          for (let i = 0; i < ordered.length; i++) answer[start + i] = ordered[i]!;
          turned = true;
        }
      }
      start = end;
    }
    if (turned) result.answer = answer;
    return turned;
  }

  private rotated(run: Rr[], key: string): Rr[] {
    const turn = this.turns.get(key) ?? 0;
    this.turns.set(key, turn + 1 >= 1_000_000_000 ? 0 : turn + 1);
    const by = turn % run.length;
    return [...run.slice(by), ...run.slice(0, by)];
  }

  private shuffled(run: Rr[]): Rr[] {
    const out = [...run];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }
}

/** The responder's answer order for these policies; null when none turns an answer. */
export function answerOrderFor(policies: readonly AnswerPolicy[]): AnswerOrder | null {
  const table = new PolicyTable(policies);
  return table.rotating ? new AnswerOrder(table) : null;
}
