#!/bin/sh
# Builds the vproc image: deploy/build-image.sh TAG [VERSION [COMMIT]].
#
# The binary is built on this machine (static: CGO_ENABLED=0, for this
# machine's architecture unless GOARCH says otherwise) and copied into an
# image FROM scratch, with a passwd and group file naming the vproc user
# (65532) and an empty /data that the user owns. With $VPROC_BINARY, that
# static binary is used instead of building one. `make image` runs this;
# so does the deployment test.
set -eu

tag=${1:?usage: build-image.sh TAG [VERSION [COMMIT]]}
version=${2:-dev}
commit=${3:-unknown}
root=$(cd "$(dirname "$0")/.." && pwd)

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT INT TERM

mkdir "$ctx/data"
if [ -n "${VPROC_BINARY:-}" ]; then
	cp "$VPROC_BINARY" "$ctx/vproc"
else
	(cd "$root" && CGO_ENABLED=0 ${GO:-go} build -trimpath \
		-ldflags "-s -w -X main.version=$version -X main.commit=$commit" \
		-o "$ctx/vproc" ./cmd/vproc)
fi
printf 'root:x:0:0:root:/:/sbin/nologin\nvproc:x:65532:65532:vproc:/data:/sbin/nologin\n' >"$ctx/passwd"
printf 'root:x:0:\nvproc:x:65532:\n' >"$ctx/group"
docker build --tag "$tag" --file "$root/deploy/Dockerfile" "$ctx"
