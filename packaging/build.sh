#!/usr/bin/env bash
# packaging/build.sh [VERSION]: builds a static, version-stamped arcadvise and,
# with nfpm (installed with `go install` at a fixed version into $DIST/tools),
# a .deb and an .rpm in $DIST:
# /usr/bin/arcadvise, arcadvise(8), bash and zsh completions, the textfile
# service and timer (installed disabled), /etc/default/arcadvise, the guard's
# hooks under /usr/share/arcadvise (Proxmox VE, libvirt), the README,
# the changelog and the copyright. Needs Go and go-md2man (Debian package).
# VERSION defaults to 0.1.0~git<date>.<commit> from the checkout; DIST (default
# the checkout's dist/; a relative DIST is taken from the directory build.sh is
# run in) is where the packages go. It builds the checkout it is part of (its
# own ../), from whatever directory it is run.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
DIST=$(realpath -m -- "${DIST:-$REPO/dist}")
cd "$REPO"
NFPM=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
MODULE=github.com/arcadvise/arcadvise
if [[ -n ${1:-} ]]; then
  VERSION=$1
else
  VERSION=0.1.0~git$(git log -1 --format=%cd --date=format:%Y%m%d 2>/dev/null || date -u +%Y%m%d).$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
fi
[[ $VERSION =~ ^[0-9][A-Za-z0-9.+~]*$ ]] || { echo "build.sh: version '$VERSION' must start with a digit and use [A-Za-z0-9.+~]" >&2; exit 2; }
command -v go-md2man >/dev/null || { echo "build.sh: go-md2man is missing (apt-get install go-md2man)" >&2; exit 3; }
export VERSION LICENSE="none granted yet (all rights reserved; see /usr/share/doc/arcadvise/copyright)"
STAGE=$DIST/stage
mkdir -p "$DIST" && rm -rf "$STAGE" "$DIST"/*.deb "$DIST"/*.rpm && mkdir -p "$STAGE"

# The binary: static (no cgo), stamped with the version and, from a checkout,
# the VCS revision (arcadvise --version prints both).
CGO_ENABLED=0 go build -trimpath -buildvcs=auto -ldflags "-s -w -X $MODULE/internal/buildinfo.Version=$VERSION" \
  -o "$STAGE/arcadvise" ./cmd/arcadvise
# The man page, the completions (from the flag set), the units, the docs.
go-md2man -in docs/arcadvise.8.md | gzip -9n >"$STAGE/arcadvise.8.gz"
go run ./packaging/completions bash >"$STAGE/arcadvise.bash"
go run ./packaging/completions zsh >"$STAGE/_arcadvise"
cp contrib/systemd/arcadvise-textfile.service contrib/systemd/arcadvise-textfile.timer "$STAGE/"
cp contrib/systemd/arcadvise.default "$STAGE/arcadvise.default"
cp contrib/proxmox/arcadvise-hook "$STAGE/arcadvise-hook"
cp contrib/libvirt/qemu "$STAGE/libvirt-qemu"
cp README.md "$STAGE/README.md" && gzip -9nc README.md >"$STAGE/README.md.gz"
cp packaging/copyright "$STAGE/copyright"
cp packaging/lintian-overrides "$STAGE/lintian-overrides"
cp packaging/changelog.yml "$STAGE/changelog.yml"
sed -n 's/^    - note: "\(.*\)"$/- \1/p' packaging/changelog.yml >"$STAGE/changelog.md"

GOBIN=$DIST/tools go install "$NFPM"
for p in deb rpm; do
  (cd "$DIST" && ./tools/nfpm pkg --config "$REPO/packaging/nfpm.yaml" --packager "$p" --target "$DIST/")
done
ls -l "$DIST"/*.deb "$DIST"/*.rpm
