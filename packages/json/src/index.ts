// @baton/json: JSON values as Baton carries them. The wire (protocol, clients)
// and the server (store, decider, expressions) read and write them with the
// same codec, which keeps integers beyond 2^53 exact.
export { parseJson, stringifyJson } from "./codec.js";
export { nestsDeeperThan } from "./depth.js";
export { usesMoreKeyNamesThan } from "./key-names.js";
export { MESSAGE_CHARS, NOTE_CHARS, QUOTE_CHARS, abridged, quoted, shortened } from "./quote.js";

/** A JSON value (an integer beyond 2^53 is a BigInt at run time, see parseJson). */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };
