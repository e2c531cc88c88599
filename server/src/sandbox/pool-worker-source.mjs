// Tests run the server from its TypeScript source (under tsx): a pool thread
// there loads tsx before the worker module. Compiled, pool.ts points at
// pool-worker.js instead and this file is not used.
import { register } from "tsx/esm/api";

register();
const worker = await import("./pool-worker.ts");
export default worker.default;
