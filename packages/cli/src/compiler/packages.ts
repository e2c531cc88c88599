// Which npm package a file belongs to (the nearest package.json's name).
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

export const SDK_PACKAGE = "@baton/sdk";

const names = new Map<string, string | undefined>();

export function packageOf(file: string): string | undefined {
  const dir = path.dirname(file);
  if (names.has(dir)) return names.get(dir);
  let name: string | undefined;
  const manifest = path.join(dir, "package.json");
  if (existsSync(manifest)) {
    try {
      name = (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name;
    } catch {
      name = undefined;
    }
  } else if (path.dirname(dir) !== dir) {
    name = packageOf(dir);
  }
  names.set(dir, name);
  return name;
}
