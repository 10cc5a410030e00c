#!/usr/bin/env bash
# Installs what `npm run bench` measures and compares against (Debian/Ubuntu). Run as root or with sudo.
#   gcc, libc6-dev   build bench/ceiling/responder.c and bench/loadgen/udpgen.c
#   util-linux       taskset (pinning servers to core 0, load generators to core 1)
#   dnsperf          latency percentiles and the TCP pipelined run
#   bind9, knot, nsd the peers (only their binaries are used; the bench starts them itself)
#   dnsmasq, unbound the forwarders bench/forward/run.ts compares kdns with (binaries only)
#   tcpdump          bench/forward/latency-split.ts: loopback capture of a cold miss's four packets
#   CoreDNS          from the Go module proxy, when Go is present (skipped with a notice otherwise)
set -euo pipefail
COREDNS_VERSION=v1.15.0

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
$SUDO apt-get update
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
  gcc libc6-dev util-linux dnsperf bind9 knot nsd dnsmasq unbound tcpdump

# The packages ship system services that would listen on port 53; the bench needs only the binaries.
if [ -d /run/systemd/system ]; then
  for unit in named knot nsd dnsmasq unbound; do $SUDO systemctl disable --now "$unit.service" >/dev/null 2>&1 || true; done
fi

GO="$(command -v go || true)"
if [ -z "$GO" ] && [ -x /usr/local/go/bin/go ]; then GO=/usr/local/go/bin/go; fi
if [ -n "$GO" ]; then
  echo "installing CoreDNS $COREDNS_VERSION with $("$GO" version)"
  "$GO" install "github.com/coredns/coredns@$COREDNS_VERSION"
  echo "CoreDNS: $("$GO" env GOPATH)/bin/coredns"
else
  echo "notice: Go not found; CoreDNS is skipped (the bench reports it as not available)"
fi
