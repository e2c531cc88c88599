// Access control: API keys with roles, checked in one wrapper around every service.
export { ROLES, isRole, hashKey, keyId, KeyRegistry, KeyError, openKeyRegistry, type Role, type KeyRecord, type NewKey } from "./keys.js";
export { Authenticator, AuthError, type AuthFailure } from "./authenticator.js";
export { RULES, ANONYMOUS, mayCall, inScope, type Principal } from "./policy.js";
export { guard, methodsOf, principalOfCall, type GuardOptions, type MethodInfo } from "./guard.js";
export { TaskTypes } from "./task-types.js";
export {
  KEY_SERVICE,
  keyServiceDefinition,
  keyServiceHandlers,
  keyServiceMethods,
  callKeyService,
  type CreateKeyRequest,
  type CreateKeyResponse,
  type ListKeysRequest,
  type ListKeysResponse,
  type RevokeKeyRequest,
  type RevokeKeyResponse,
} from "./key-service.js";
