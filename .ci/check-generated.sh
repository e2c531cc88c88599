#!/usr/bin/env bash
# Regenerates every client from proto/ and fails if the committed code differs.
set -euo pipefail
cd "$(dirname "$0")/.."
buf generate
if [ -f buf.gen.go.yaml ]; then buf generate --template buf.gen.go.yaml; fi
if ! git diff --exit-code --stat -- packages/protocol/src/gen packages/go/gen; then
  echo "generated code is stale: run 'npm run generate' and commit the result" >&2
  exit 1
fi
untracked=$(git ls-files --others --exclude-standard -- packages/protocol/src/gen packages/go/gen)
if [ -n "$untracked" ]; then
  echo "generated files not committed: $untracked" >&2
  exit 1
fi
echo "generated code is fresh"
