#!/usr/bin/env bash
# Builds (once) what the opt-in real-control-plane suite runs, cached under ~/.cache/kdns-real-k8s:
#   etcd 3.4 from Debian's etcd-server package (unpacked with dpkg -x: no service is installed or started)
#   kube-apiserver and kube-controller-manager v$K8S_VERSION from the Go module proxy
# kubernetes' go.mod replaces its staging modules with local paths, so `go install k8s.io/kubernetes/cmd/...`
# fails; a throwaway module requiring k8s.io/kubernetes with one `replace` per staging module (pinned to the
# published v0.X.Y) builds them. About 15 minutes on 2 cores the first time; nothing is rebuilt after that.
set -euo pipefail
K8S_VERSION="${K8S_VERSION:-1.37.2}"
STAGING_VERSION="v0.${K8S_VERSION#1.}"
CACHE="${KDNS_REAL_K8S_CACHE:-$HOME/.cache/kdns-real-k8s}"
BIN="$CACHE/v$K8S_VERSION/bin"
mkdir -p "$BIN"

if [ ! -x "$CACHE/etcd/usr/bin/etcd" ]; then
  echo "real-k8s: unpacking Debian's etcd-server into $CACHE/etcd"
  tmp="$(mktemp -d)"
  (cd "$tmp" && apt-get download etcd-server >/dev/null)
  dpkg -x "$tmp"/etcd-server_*.deb "$CACHE/etcd"
  rm -rf "$tmp"
fi

GO="$(command -v go || true)"
if [ -z "$GO" ] && [ -x /usr/local/go/bin/go ]; then GO=/usr/local/go/bin/go; fi
if [ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/kube-controller-manager" ]; then
  echo "real-k8s: kube-apiserver and kube-controller-manager v$K8S_VERSION are in $BIN"
  exit 0
fi
if [ -z "$GO" ]; then echo "real-k8s: Go is needed to build kube-apiserver (Go >= 1.26 for v1.37)" >&2; exit 1; fi

MOD="$CACHE/v$K8S_VERSION/module"
mkdir -p "$MOD"
cd "$MOD"
if [ ! -f go.mod ]; then
  echo "real-k8s: preparing a build module for k8s.io/kubernetes v$K8S_VERSION"
  "$GO" mod init kdns.local/real-k8s >/dev/null 2>&1
  "$GO" mod edit -require "k8s.io/kubernetes@v$K8S_VERSION"
  # The staging modules kubernetes replaces with ./staging paths, read from its own go.mod.
  "$GO" mod download -json "k8s.io/kubernetes@v$K8S_VERSION" > kubernetes.json
  gomod="$(sed -n 's/.*"GoMod": "\(.*\)",*/\1/p' kubernetes.json)"
  grep -E '^\s*k8s.io/[a-z0-9-]+ => ./staging/' "$gomod" | awk '{print $1}' | grep -v '/sample-' | while read -r m; do
    "$GO" mod edit -replace "$m=$m@$STAGING_VERSION"
  done
  cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
GO
  "$GO" mod tidy
fi
LDFLAGS="-X k8s.io/component-base/version.gitVersion=v$K8S_VERSION"
for cmd in kube-apiserver kube-controller-manager; do
  if [ ! -x "$BIN/$cmd" ]; then
    echo "real-k8s: building $cmd v$K8S_VERSION (minutes)"
    "$GO" build -ldflags "$LDFLAGS" -o "$BIN/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd"
    mv "$BIN/$cmd.tmp" "$BIN/$cmd"
  fi
done
echo "real-k8s: built into $BIN"
