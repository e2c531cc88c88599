// An event handler acts on runs with the rights of the key that registered it
// (its owner), checked each time an action is about to run: registering needs
// those rights too (auth/policy.ts), but a key revoked or reduced since must
// stop its handlers from changing runs, not only from registering new ones.
import { actionRight, mayCall, principalOf } from "../auth/policy.js";
import type { KeyRegistry } from "../auth/keys.js";

/** Why `owner`'s handler may not carry out `action` now, or undefined when it may. */
export type OwnerCheck = (owner: string, action: unknown) => Promise<string | undefined>;

/** Checks owners against the stored keys (read afresh: a handler fires rarely next to the calls a key makes). */
export function ownerCheck(keys: Pick<KeyRegistry, "find">): OwnerCheck {
  return async (owner, action) => {
    const right = actionRight(action);
    if (owner === "") {
      return `the handler has no owner key (registered on a server without keys, or before handlers kept their owner): register it again with a key that may call ${right}`;
    }
    const found = await keys.find(owner);
    if (!found) return `its owner key ${owner} no longer exists: register the handler again with a key that may call ${right}`;
    if (found.record.revokedAt !== 0) return `its owner key ${owner} has been revoked: register the handler again with a key that may call ${right}`;
    const principal = principalOf(found.record);
    if (!mayCall(principal, right)) return `its owner key ${owner} (role ${principal.role}) may not call ${right}`;
    return undefined;
  };
}
