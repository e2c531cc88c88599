// Where HTTP tasks may connect. Entries of BATON_HTTP_ALLOWED_HOSTS are host
// names (matched by name, "*" for any) or addresses and CIDRs (matched by the
// address a host resolves to). Whatever the name, the address is checked when
// the connection is made (request-filtering-agent, ranges from ipaddr.js):
// loopback, private, link-local and other non-public addresses are refused
// unless an address entry covers them, so a DNS name cannot lead a flow to the
// server's own network.
import { isIP } from "node:net";
import ipaddr from "ipaddr.js";
import { RequestFilteringHttpAgent, RequestFilteringHttpsAgent } from "request-filtering-agent";
import type { Agent } from "node:http";

export interface Allowlist {
  /** "*" was listed: any name (its address is still checked). */
  anyName: boolean;
  names: Set<string>;
  /** Addresses and CIDRs that may be reached even if not public. */
  networks: string[];
}

const HOST_NAME = /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*\.?$/i;

/** Reads the allowlist; an entry that is neither a host name, an address nor a CIDR is an error naming it. */
export function parseAllowlist(entries: string[]): Allowlist {
  const list: Allowlist = { anyName: false, names: new Set(), networks: [] };
  const addresses: string[] = [];
  const cidrs: string[] = [];
  for (const raw of entries) {
    const entry = raw.trim().replace(/^\[(.*)\]$/, "$1");
    if (entry === "*") list.anyName = true;
    else if (isIP(entry) !== 0) addresses.push(ipaddr.parse(entry).toString());
    else if (entry.includes("/") && ipaddr.isValidCIDR(entry)) cidrs.push(entry);
    else if (!entry.includes("/") && !entry.includes(":") && HOST_NAME.test(entry)) list.names.add(entry.toLowerCase());
    else
      throw new Error(
        `BATON_HTTP_ALLOWED_HOSTS: "${raw}" is neither a host name, an address nor a CIDR (e.g. api.example.com, 10.0.0.5, 10.0.0.0/8, or * for any public host)`,
      );
  }
  // Single addresses first: they match without parsing, so a CIDR of the other family is tried less often.
  list.networks = [...addresses, ...cidrs];
  return list;
}

/** The agents HTTP tasks connect through: one for listed names, one for names allowed only by their address. */
export class HttpAgents {
  private readonly named: { http: Agent; https: Agent };
  private readonly byAddress: { http: Agent; https: Agent } | undefined;

  constructor(private readonly list: Allowlist) {
    const trusted = { allowIPAddressList: list.networks };
    this.named = { http: new RequestFilteringHttpAgent(trusted), https: new RequestFilteringHttpsAgent(trusted) };
    // A name not on the list is reached only at an address entry: every other address is denied.
    const onlyListed = { allowIPAddressList: list.networks, denyIPAddressList: ["0.0.0.0/0", "::/0"] };
    this.byAddress =
      list.networks.length > 0 ? { http: new RequestFilteringHttpAgent(onlyListed), https: new RequestFilteringHttpsAgent(onlyListed) } : undefined;
  }

  /** The agent for `url`, or undefined when its host may not be called at all. */
  agentFor(url: URL): Agent | undefined {
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1").toLowerCase();
    const agents = this.list.anyName || this.list.names.has(host) ? this.named : this.byAddress;
    if (!agents) return undefined;
    return url.protocol === "https:" ? agents.https : agents.http;
  }

  destroy(): void {
    for (const agent of [this.named.http, this.named.https, this.byAddress?.http, this.byAddress?.https]) agent?.destroy();
  }
}

/** The agent's refusal, said for a flow's author: which address, and how to allow it. Undefined for other errors. */
export function explainRefusal(host: string, error: Error): string | undefined {
  const match = /^DNS lookup (.+?)\(family:.*is not allowed\. Because,? (.*)$/.exec(error.message);
  if (!match) return undefined;
  const address = match[1]!;
  const resolved = host.replace(/^\[(.*)\]$/, "$1") === address ? `address ${address} is` : `host ${host} resolves to ${address},`;
  if (/denyIPAddressList/.test(match[2]!)) {
    return `host ${host} is not on the HTTP allowlist (BATON_HTTP_ALLOWED_HOSTS), and its address ${address} is not one of the addresses listed there`;
  }
  return `${resolved} a private, loopback or link-local address: HTTP tasks call such an address only when BATON_HTTP_ALLOWED_HOSTS lists it (the address, or a CIDR such as 10.0.0.0/8)`;
}
