// Which rule answers a name: the longest matching suffix among the --server routes and --address rules,
// else the default upstreams. Built once from options; a lookup walks the name's ancestors (at most 127)
// in one Map.

import { isIPv4 } from 'node:net';
import type { ListenAddress, UpstreamRoute } from '../config/types.js';
import { parentOf } from '../dns/name.js';
import { rdataA, rdataAAAA } from '../dns/rdata.js';
import type { AddressRule } from './options.js';
import { BoundedMemo } from '../util/bounded-memo.js';

/** Forward to these upstreams (an empty list answers SERVFAIL: every server configured was refused). */
export interface ForwardRule<U> {
  kind: 'forward';
  domain: string;
  upstreams: U[];
}
/** `--server=/a/`: never forwarded; answered NXDOMAIN here. */
export interface LocalRule {
  kind: 'local';
  domain: string;
}
/** `--address=/a/IP`: answered here, A/AAAA by family, NODATA for other types, NXDOMAIN without IPs. */
export interface AddressAnswerRule {
  kind: 'address';
  domain: string;
  v4: Buffer[];
  v6: Buffer[];
}
export type Rule<U> = ForwardRule<U> | LocalRule | AddressAnswerRule;

export class RouteTable<U> {
  private readonly byDomain = new Map<string, Rule<U>>();
  readonly defaultRule: ForwardRule<U>;

  /**
   * `upstreamFor` turns a configured server into the object queries go to, or null to refuse it (kdns's
   * own address); the same address must map to the same object so health and limits are shared.
   */
  constructor(
    routes: readonly UpstreamRoute[],
    addresses: readonly AddressRule[],
    defaults: readonly U[],
    upstreamFor: (server: ListenAddress) => U | null,
  ) {
    this.defaultRule = { kind: 'forward', domain: '.', upstreams: [...defaults] };
    for (const route of routes) {
      for (const domain of route.domains) {
        const prev = this.byDomain.get(domain);
        if (route.localOnly) {
          this.byDomain.set(domain, { kind: 'local', domain });
          continue;
        }
        if (prev?.kind === 'local') continue; // dnsmasq: /a/ (local) wins over servers for the same domain
        const servers = route.servers.length === 0 ? [...defaults] : route.servers.map(upstreamFor).filter((u): u is U => u !== null);
        // Several --server lines for one domain add servers, as in dnsmasq.
        const upstreams = prev?.kind === 'forward' ? [...prev.upstreams, ...servers.filter((s) => !prev.upstreams.includes(s))] : servers;
        this.byDomain.set(domain, { kind: 'forward', domain, upstreams });
      }
    }
    // --address is more specific than --server for the same domain (dnsmasq answers it locally).
    for (const a of addresses) {
      const prev = this.byDomain.get(a.domain);
      const rule: AddressAnswerRule = prev?.kind === 'address' ? prev : { kind: 'address', domain: a.domain, v4: [], v6: [] };
      for (const ip of a.ips) {
        if (isIPv4(ip)) rule.v4.push(rdataA(ip));
        else rule.v6.push(rdataAAAA(ip));
      }
      this.byDomain.set(a.domain, rule);
    }
  }

  /**
   * The rule for `key` (longest suffix), else the default rule. Asked several times for every forwarded
   * query, so answers are remembered per name (the rules never change after construction; upstream health
   * lives in the upstream objects, not here). Bounded: past 10,000 names the memo starts over.
   */
  match(key: string): Rule<U> {
    if (key === this.lastKey) return this.lastRule!;
    return this.remember(key, this.memo.get(key));
  }

  /**
   * The rule for `key` like match(), without adding the name to the memo: the responder's first look at a
   * name (a random-name flood would only churn the memo). match() for the same name right after finds it in
   * the one-name cache.
   */
  peek(key: string): Rule<U> {
    if (key === this.lastKey) return this.lastRule!;
    return this.remember(key, this.memo.peek(key) ?? this.longestSuffix(key));
  }

  private readonly memo = new BoundedMemo<string, Rule<U>>(10_000, (key) => this.longestSuffix(key));
  /** The last name asked and its rule: a query asks peek() then match() for the same name. */
  private lastKey: string | null = null;
  private lastRule: Rule<U> | null = null;

  private remember(key: string, rule: Rule<U>): Rule<U> {
    this.lastKey = key;
    this.lastRule = rule;
    return rule;
  }

  private longestSuffix(key: string): Rule<U> {
    let k: string | null = key;
    for (let i = 0; i < 128 && k !== null; i++) {
      const rule = this.byDomain.get(k);
      if (rule !== undefined) return rule;
      k = parentOf(k);
    }
    return this.defaultRule;
  }

  /** Every distinct upstream in any rule. */
  allUpstreams(): U[] {
    const set = new Set<U>(this.defaultRule.upstreams);
    for (const r of this.byDomain.values()) if (r.kind === 'forward') for (const u of r.upstreams) set.add(u);
    return [...set];
  }
}
