#!/usr/bin/env bash
# Fails when packages/go/gen is not what the proto files and
# buf.gen.go.yaml generate. Regenerates into a temporary copy of the inputs,
# so the work tree is never touched. Needs buf and the pinned plugins:
#   go install github.com/bufbuild/buf/cmd/buf@v1.75.0
#   go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.10
#   go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export PATH="$(go env GOPATH)/bin:$PATH"

want_go="protoc-gen-go v1.36.10"
want_grpc="protoc-gen-go-grpc 1.5.1"
have_go="$(protoc-gen-go --version 2>/dev/null || true)"
have_grpc="$(protoc-gen-go-grpc --version 2>/dev/null || true)"
if [[ "$have_go" != "$want_go" || "$have_grpc" != "$want_grpc" ]]; then
	echo "check-generated: need '$want_go' and '$want_grpc' on PATH, found '$have_go' and '$have_grpc'" >&2
	exit 2
fi
command -v buf >/dev/null || { echo "check-generated: buf not found on PATH" >&2; exit 2; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp -R "$root/proto" "$root/buf.yaml" "$root/buf.gen.go.yaml" "$tmp/"
[[ -f "$root/buf.lock" ]] && cp "$root/buf.lock" "$tmp/"
(cd "$tmp" && buf generate --template buf.gen.go.yaml)

if ! diff -ru "$root/packages/go/gen" "$tmp/packages/go/gen"; then
	echo "check-generated: packages/go/gen is stale; run at the repo root:" >&2
	echo "  PATH=\"\$(go env GOPATH)/bin:\$PATH\" buf generate --template buf.gen.go.yaml" >&2
	exit 1
fi
echo "check-generated: packages/go/gen is up to date"
