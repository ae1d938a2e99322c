#!/usr/bin/env bash
# testbed.sh - a Docker Swarm test bed for defpi on ONE Debian 12 machine (no systemd needed).
#
#   testbed.sh up [N_WORKERS] [--only PARTS]
#                     bring up PARTS (comma list of swarm,registry,mongo; default all three) with
#                     N_WORKERS swarm workers (default 2) next to the manager. Prints the
#                     `export VAR=...` lines on stdout (eval "$(testbed.sh up)"), progress on stderr.
#                     Idempotent; a smaller N removes the extra workers; parts already up stay up.
#                     `--only mongo` and `--only registry` need root only to install missing packages.
#   testbed.sh status             health of every part brought up; exit 0 only if all of them are up
#   testbed.sh env                print the env again (eval "$(testbed.sh env)")
#   testbed.sh down [--purge]     stop and remove everything `up` made (--purge: the cache too)
#   testbed.sh stop-node NAME [--kill|--kill-daemon]
#                     NAME = mgr, w1, w2...: SIGTERM its dockerd;
#                     --kill: power-off (SIGKILL dockerd, containerd, shims and containers);
#                     --kill-daemon: SIGKILL dockerd only (its containers keep running)
#   testbed.sh start-node NAME    start it again (it rejoins the swarm by itself)
#   testbed.sh pack IMAGE SRC[:DST]...
#                     package dynamically linked binaries (plus their ldd libraries and loader) as
#                     IMAGE with no base image; ENTRYPOINT is the first binary; pushed if IMAGE
#                     names the test-bed registry
#
# Variables printed by up/env (only those of the parts that are up):
#   TESTBED_DIR TESTBED_PARTS                                            always
#   DOCKER_HOST TESTBED_DOCKER_SOCKET TESTBED_DOCKER_API_VERSION
#   TESTBED_NODES TESTBED_WORKER_DOCKER_HOSTS                            swarm
#   TESTBED_REGISTRY TESTBED_REGISTRY_URL                                registry
#   TESTBED_BUSYBOX_IMAGE                                                swarm + registry
#   TESTBED_MONGODB_URI                                                  mongo
#
# Settings (environment):
#   DEFPI_TESTBED_DIR      state directory (/tmp/defpi-testbed); its cache/ (Python venv, busybox
#                          rootfs) survives `down` and goes with `down --purge`
#   TESTBED_PREFIX         namespace / node name prefix (tb)
#   TESTBED_SUBNET         /24 prefix used only inside the namespaces (10.231.0)
#   TESTBED_REGISTRY_PORT  registry port on 127.0.0.1 (5000)
#   TESTBED_MONGO_PORT     MongoDB wire-protocol port on 127.0.0.1 (27017)
#   TESTBED_HEARTBEAT      swarm dispatcher heartbeat (5s; 1s makes a killed node Down in ~2 s)
#   TESTBED_SECANTUS_SPEC  pip requirement of the MongoDB-compatible server (secantusdb==0.7.0b3)
#   TESTBED_PYTHON         Python used for the venv (/usr/bin/python3)
#
# Layout: every dockerd runs in its own network namespace (<prefix>-mgr, <prefix>-w1..wN), with its
# own UTS namespace (hostname = namespace name) and a private mount namespace (its overlay and
# netns mounts never appear on the host). The namespaces hang off one bridge that lives in a
# further namespace (<prefix>-hub). The host's own network namespace gets no address, no link and
# no iptables rule; it only gets an "unreachable" route for the test-bed subnet, so a stray
# connection from the host to a node address fails at once instead of leaving the machine.
# Clients on the host reach the daemons through unix sockets. Node namespaces have no default
# route: swarm tasks cannot reach the outside world.
# The registry listens on 127.0.0.1:$REG_PORT on the host; inside every node namespace a socat
# listens on 127.0.0.1:$REG_PORT and relays (through a unix socket) to it, so image names
# 127.0.0.1:$REG_PORT/... work the same on the host and on every node.
# The MongoDB wire-protocol server is SecantusDB (secantusd-py) from a venv in the cache.
# Overlay networks: the kernel may lack IP_VS, so use --endpoint-mode dnsrr (VIP mode and the
# ingress routing mesh then do not work); --publish mode=host works.
set -Eeuo pipefail

TB=${DEFPI_TESTBED_DIR:-/tmp/defpi-testbed}
PFX=${TESTBED_PREFIX:-tb}
NET=${TESTBED_SUBNET:-10.231.0}
REG_PORT=${TESTBED_REGISTRY_PORT:-5000}
MONGO_PORT=${TESTBED_MONGO_PORT:-27017}
HEARTBEAT=${TESTBED_HEARTBEAT:-5s}
SECANTUS_SPEC=${TESTBED_SECANTUS_SPEC:-secantusdb==0.7.0b3}
PY=${TESTBED_PYTHON:-/usr/bin/python3}
CACHE=$TB/cache
HUB=$PFX-hub
MGR_IP=$NET.10
BB_IMAGE=127.0.0.1:$REG_PORT/testbed/busybox:1
ALL_PARTS="swarm registry mongo"
T_START=$(date +%s.%N)

log() { printf '[testbed %6ss] %s\n' "$(awk -v a="$T_START" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b-a}')" "$*" >&2; }
die() { log "ERROR: $*"; [ "${UP_STARTED:-0}" = 1 ] && log "partial state may be left: '$0 down' removes it"; exit 1; }
need_root() { [ "$(id -u)" = 0 ] || die "${1:-this} needs root"; }
trap 'log "failed at line $LINENO: $BASH_COMMAND"' ERR

# ---------------------------------------------------------------- helpers
pid_of() { if [ -s "$1" ]; then cat "$1" 2>/dev/null || true; fi; }
# alive PIDFILE PATTERN: the pid in PIDFILE runs and its command line contains PATTERN
alive() {
  local p; p=$(pid_of "$1")
  [ -n "$p" ] && [ -r "/proc/$p/cmdline" ] && tr '\0' ' ' < "/proc/$p/cmdline" | grep -F -- "$2" >/dev/null
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() { # wait_for SECONDS CMD...
  local end=$(( $(date +%s) + $1 )); shift
  until "$@" >/dev/null 2>&1; do [ "$(date +%s)" -ge "$end" ] && return 1; sleep 0.05; done
}
# wait_service SECONDS PIDFILE PATTERN LOG NAME CMD...: until CMD succeeds; fail fast if the process dies
wait_service() {
  local end=$(( $(date +%s) + $1 )) pidfile=$2 pat=$3 logf=$4 name=$5; shift 5
  until "$@" >/dev/null 2>&1; do
    if ! alive "$pidfile" "$pat"; then tail -20 "$logf" >&2; die "$name exited during startup (log: $logf)"; fi
    if [ "$(date +%s)" -ge "$end" ]; then tail -20 "$logf" >&2; die "$name did not come up (log: $logf)"; fi
    sleep 0.05
  done
}
has_part() { [ -f "$TB/parts" ] && grep -qx "$1" "$TB/parts"; }
add_part() { has_part "$1" || echo "$1" >> "$TB/parts"; }
parts_up() { local p out=""; for p in $ALL_PARTS; do has_part "$p" && out+=" $p"; done; echo "${out# }"; }
node_ns()   { echo "$PFX-$1"; }                  # mgr -> tb-mgr, w1 -> tb-w1
node_dir()  { echo "$TB/nodes/$1"; }
node_sock() { echo "$TB/nodes/$1/docker.sock"; }
node_ip()   { if [ "$1" = mgr ]; then echo "$MGR_IP"; else echo "$NET.$(( 10 + ${1#w} ))"; fi; }
api()  { local n=$1; shift; curl -sS --max-time 10 --unix-socket "$(node_sock "$n")" "$@"; }
ping_node() { curl -sf --max-time 2 --unix-socket "$(node_sock "$1")" http://d/_ping >/dev/null 2>&1; }
dk()   { local n=$1; shift; docker -H "unix://$(node_sock "$n")" "$@"; }
swarm_state() { dk "$1" info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null || echo unreachable; }
has_netns() { ip netns list 2>/dev/null | awk '{print $1}' | grep -xF -- "$1" >/dev/null; }
our_namespaces() { ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$PFX-(hub|mgr|w[0-9]+)$" || true; }
existing_workers() { # workers with state or a namespace, sorted by index
  { ls "$TB/nodes" 2>/dev/null || true; our_namespaces | sed "s/^$PFX-//"; } | grep -E '^w[0-9]+$' | sort -u -t w -k2 -n || true
}
registry_ok() { curl -sf --max-time 2 "http://127.0.0.1:$REG_PORT/v2/" >/dev/null 2>&1; }

ensure_packages() { # ensure_packages PART...
  local missing=() c part
  for part in "$@"; do
    case $part in
      swarm) for c in dockerd:docker.io docker:docker.io ip:iproute2 nsenter:util-linux unshare:util-linux \
                      iptables:iptables curl:curl jq:jq sha256sum:coreutils socat:socat; do
               command -v "${c%%:*}" >/dev/null 2>&1 || missing+=("${c#*:}")
             done
             dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static) ;;
      registry) for c in docker-registry:docker-registry curl:curl jq:jq socat:socat; do
                  command -v "${c%%:*}" >/dev/null 2>&1 || missing+=("${c#*:}")
                done ;;
      mongo) [ -x "$CACHE/venv/bin/secantusd-py" ] || "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv) ;;
    esac
  done
  command -v flock >/dev/null 2>&1 || missing+=(util-linux)
  [ ${#missing[@]} -eq 0 ] && return 0
  local pkgs; mapfile -t pkgs < <(printf '%s\n' "${missing[@]}" | sort -u)
  need_root "installing ${pkgs[*]}"
  log "installing: ${pkgs[*]}"
  local made_policy=0
  # never let a package's postinst start a system dockerd/containerd
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; made_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >&2
  if [ $made_policy = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
}

# ---------------------------------------------------------------- network
net_up_hub() {
  [[ $NET =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "TESTBED_SUBNET must look like 10.231.0 (a /24 prefix)"
  if ip -4 -o addr show | grep -F " $NET." >/dev/null; then die "the host has an address in $NET.0/24; pick another TESTBED_SUBNET"; fi
  if has_netns "$HUB" && [ ! -d "$TB/nodes/mgr" ]; then
    die "network namespace $HUB exists but $TB holds no swarm state: another test bed uses prefix $PFX (set TESTBED_PREFIX or DEFPI_TESTBED_DIR)"
  fi
  has_netns "$HUB" || ip netns add "$HUB"
  ip -n "$HUB" link show br0 >/dev/null 2>&1 || ip -n "$HUB" link add br0 type bridge
  ip -n "$HUB" link set lo up; ip -n "$HUB" link set br0 up
  # host safety net: traffic from the host to the test-bed subnet fails here and never leaves
  local r; r=$(ip route show "$NET.0/24" 2>/dev/null)
  if [ -z "$r" ]; then ip route add unreachable "$NET.0/24"
  elif [[ $r != unreachable* ]]; then die "the host has a route for $NET.0/24 ($r); pick another TESTBED_SUBNET"; fi
}
net_up_node() { # net_up_node NAME
  local n=$1 ns; ns=$(node_ns "$1")
  has_netns "$ns" || ip netns add "$ns"
  if ! ip -n "$ns" link show eth0 >/dev/null 2>&1; then
    ip -n "$HUB" link del "v-$n" >/dev/null 2>&1 || true
    ip -n "$HUB" link add "v-$n" type veth peer name eth0 netns "$ns"
  fi
  ip -n "$HUB" link set "v-$n" master br0 up
  ip -n "$ns" addr replace "$(node_ip "$n")/24" dev eth0
  ip -n "$ns" link set lo up; ip -n "$ns" link set eth0 up
}

# ---------------------------------------------------------------- dockerd per node
start_dockerd() { # start_dockerd NAME  (returns at once; then wait_dockerd)
  local n=$1 d ns; d=$(node_dir "$n"); ns=$(node_ns "$n")
  if alive "$d/docker.pid" dockerd && ping_node "$n"; then return 0; fi
  if alive "$d/docker.pid" dockerd; then die "dockerd $n runs (pid $(pid_of "$d/docker.pid")) but does not answer"; fi
  # stale pid files after a crash: dockerd trusts any live process that has the old containerd
  # pid ("containerd is still running") and then times out after 60 s, so drop them
  rm -f "$d/docker.pid" "$d/exec/containerd/containerd.pid"
  mkdir -p "$d/etc-docker" "$d/data" "$d/exec"
  cat > "$d/daemon.json" <<EOF
{
  "data-root": "$d/data",
  "exec-root": "$d/exec",
  "pidfile": "$d/docker.pid",
  "hosts": ["unix://$d/docker.sock"],
  "cgroup-parent": "/$ns",
  "storage-driver": "overlay2",
  "log-level": "info",
  "shutdown-timeout": 5,
  "labels": ["testbed.node=$n"]
}
EOF
  mkdir -p /etc/docker
  # `ip netns exec` would remount /sys (and lose the cgroup v1 mounts): use nsenter + unshare.
  # Own netns; own UTS ns (hostname = swarm node name); private mount ns (mounts stay inside);
  # private /etc/docker so that every engine gets its own key.json (engine ID).
  # 9>&-: no daemon may inherit (and so keep) the lock.
  # shellcheck disable=SC2016 # $1..$3 are expanded by the inner sh
  setsid nsenter --net="/run/netns/$ns" -- unshare --mount --uts --propagation private -- \
    /bin/sh -c 'hostname "$1" && mount --bind "$2" /etc/docker && exec dockerd --config-file "$3"' \
    sh "$ns" "$d/etc-docker" "$d/daemon.json" >> "$d/dockerd.log" 2>&1 < /dev/null 9>&- &
}
wait_dockerd() {
  wait_for 60 ping_node "$1" || { tail -20 "$(node_dir "$1")/dockerd.log" >&2; die "dockerd $1 did not come up"; }
}
start_regfwd() { # socat in the node's netns: 127.0.0.1:REG_PORT -> unix socket -> host registry
  local n=$1 d; d=$(node_dir "$n")
  alive "$d/regfwd.pid" "$TB/registry/registry.sock" && return 0
  setsid nsenter --net="/run/netns/$(node_ns "$n")" -- socat "TCP-LISTEN:$REG_PORT,bind=127.0.0.1,fork,reuseaddr" \
    "UNIX-CONNECT:$TB/registry/registry.sock" >> "$d/regfwd.log" 2>&1 < /dev/null 9>&- &
  echo $! > "$d/regfwd.pid"
}

# ---------------------------------------------------------------- registry
start_registry() {
  local r=$TB/registry; mkdir -p "$r/data"
  alive "$r/registry.pid" "$r/config.yml" && return 0
  if port_open "$REG_PORT"; then die "127.0.0.1:$REG_PORT is already in use by another program (set TESTBED_REGISTRY_PORT)"; fi
  cat > "$r/config.yml" <<EOF
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $r/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$REG_PORT
EOF
  setsid docker-registry serve "$r/config.yml" >> "$r/registry.log" 2>&1 < /dev/null 9>&- &
  echo $! > "$r/registry.pid"
}
wait_registry() { wait_service 20 "$TB/registry/registry.pid" "$TB/registry/config.yml" "$TB/registry/registry.log" registry registry_ok; }
start_bridge() { # host side of the node relays: unix socket -> 127.0.0.1:REG_PORT
  local r=$TB/registry
  if ! alive "$r/bridge.pid" "$r/registry.sock"; then
    setsid socat "UNIX-LISTEN:$r/registry.sock,fork,unlink-early,mode=600" "TCP:127.0.0.1:$REG_PORT" \
      >> "$r/bridge.log" 2>&1 < /dev/null 9>&- &
    echo $! > "$r/bridge.pid"
  fi
  wait_for 5 test -S "$r/registry.sock" || die "registry unix bridge missing (log: $r/bridge.log)"
}

# ---------------------------------------------------------------- secantusd (MongoDB wire protocol)
ensure_venv() {
  local v=$CACHE/venv
  if [ -x "$v/bin/secantusd-py" ] && [ "$(cat "$v/.spec" 2>/dev/null)" = "$SECANTUS_SPEC" ]; then return 0; fi
  log "creating venv and installing $SECANTUS_SPEC (one time; kept in $CACHE)"
  rm -rf "$v"; mkdir -p "$CACHE"
  "$PY" -m venv "$v"
  "$v/bin/pip" install -q --disable-pip-version-check "$SECANTUS_SPEC" >&2
  [ -x "$v/bin/secantusd-py" ] || die "$SECANTUS_SPEC installed no secantusd-py"
  echo "$SECANTUS_SPEC" > "$v/.spec"
}
start_mongo() {
  local m=$TB/mongo; mkdir -p "$m/data"
  alive "$m/secantusd.pid" "$m/data" && return 0
  if port_open "$MONGO_PORT"; then die "127.0.0.1:$MONGO_PORT is already in use by another program (set TESTBED_MONGO_PORT)"; fi
  : > "$m/secantusd.toml"   # explicit (empty) config: no auto-discovery of stray secantusd.toml files
  ( cd "$m" && exec setsid "$CACHE/venv/bin/secantusd-py" --config "$m/secantusd.toml" --host 127.0.0.1 \
      --port "$MONGO_PORT" --storage-path "$m/data" --cache-size 256M >> "$m/secantusd.log" 2>&1 < /dev/null ) 9>&- &
  echo $! > "$m/secantusd.pid"
}
wait_mongo() { wait_service 60 "$TB/mongo/secantusd.pid" "$TB/mongo/data" "$TB/mongo/secantusd.log" secantusd port_open "$MONGO_PORT"; }

# ---------------------------------------------------------------- images
build_busybox_rootfs() {
  local r=$CACHE/busybox-rootfs a
  [ -x "$r/bin/busybox" ] && return 0
  rm -rf "$r"; mkdir -p "$r/bin" "$r/etc" "$r/tmp" "$r/proc" "$r/sys" "$r/dev" "$r/root"; chmod 1777 "$r/tmp"
  cp /bin/busybox "$r/bin/busybox"
  for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$r/bin/$a"; done
  echo 'root:x:0:0:root:/root:/bin/sh' > "$r/etc/passwd"; echo 'root:x:0:' > "$r/etc/group"
}
ensure_busybox_image() {
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' -I -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
         "http://127.0.0.1:$REG_PORT/v2/testbed/busybox/manifests/1")
  [ "$code" = 200 ] && return 0
  build_busybox_rootfs
  tar -C "$CACHE/busybox-rootfs" -c . | dk mgr import --change 'LABEL org.testbed.image=busybox' \
      --change "LABEL org.testbed.busybox=$(dpkg-query -W -f '${Version}' busybox-static)" --change 'CMD ["/bin/sh"]' - "$BB_IMAGE" >/dev/null
  dk mgr push -q "$BB_IMAGE" >/dev/null
}

# ---------------------------------------------------------------- swarm
swarm_init() {
  [ "$(swarm_state mgr)" = active ] && return 0
  dk mgr swarm init --advertise-addr "$MGR_IP" --listen-addr "$MGR_IP:2377" --dispatcher-heartbeat "$HEARTBEAT" >/dev/null
  dk mgr node update --label-add testbed.role=manager --label-add testbed.name=mgr "$PFX-mgr" >/dev/null
}
join_worker() { # join_worker wN TOKEN
  local n=$1 ip id; ip=$(node_ip "$n")
  if [ "$(swarm_state "$n")" != active ]; then
    dk "$n" swarm join --token "$2" --advertise-addr "$ip" --listen-addr "$ip:2377" "$MGR_IP:2377" >/dev/null
  fi
  id=$(dk "$n" info --format '{{.Swarm.NodeID}}')
  dk mgr node update --label-add testbed.role=worker --label-add "testbed.name=$n" "$id" >/dev/null
}

# ---------------------------------------------------------------- teardown of one node
node_pids() { # every process that belongs to node N: in its netns or in its cgroup tree
  local ns; ns=$(node_ns "$1")
  { ip netns pids "$ns" 2>/dev/null || true
    cat /sys/fs/cgroup/*/"$ns"/cgroup.procs /sys/fs/cgroup/*/"$ns"/*/cgroup.procs 2>/dev/null || true; } | sort -un
}
stop_node() { # stop_node NAME MODE   MODE: graceful | fast (state is thrown away next) | hard (power-off)
  local n=$1 mode=${2:-graceful} d ns p end; d=$(node_dir "$n"); ns=$(node_ns "$n")
  if [ "$mode" != hard ] && ping_node "$n"; then
    # containers first, through the API: their shims exit cleanly and take sockets and cgroups along
    local ids cp=()
    ids=$(api "$n" 'http://d/v1.41/containers/json?all=1' 2>/dev/null | jq -r '.[].Id' 2>/dev/null || true)
    for p in $ids; do api "$n" -X DELETE "http://d/v1.41/containers/$p?force=1&v=1" >/dev/null 2>&1 & cp+=($!); done
    for p in "${cp[@]}"; do wait "$p" || true; done
    if [ "$mode" = graceful ]; then   # a swarm dockerd needs about 3 s to stop on SIGTERM
      p=$(pid_of "$d/docker.pid")
      if [ -n "$p" ]; then
        kill -TERM "$p" 2>/dev/null || true
        end=$(( $(date +%s) + 10 ))
        while kill -0 "$p" 2>/dev/null && [ "$(date +%s)" -lt "$end" ]; do sleep 0.1; done
      fi
    fi
  fi
  # whatever is left (daemon, containerd, orphaned shims and containers, the registry relay): SIGKILL
  local left
  end=$(( $(date +%s) + 10 ))
  while :; do
    mapfile -t left < <(node_pids "$n")
    [ ${#left[@]} -eq 0 ] && break
    if [ "$(date +%s)" -ge "$end" ]; then log "WARNING: pids still alive in $ns: ${left[*]}"; break; fi
    kill -KILL "${left[@]}" 2>/dev/null || true; sleep 0.1
  done
  # a shim killed with SIGKILL leaves its socket: /run/containerd/s/sha256(<containerd address>/moby/<id>)
  local addr=$d/exec/containerd/containerd.sock id h cg
  for id in "$d"/data/containers/*; do
    [ -d "$id" ] || continue; id=${id##*/}
    h=$(printf '%s' "$addr/moby/$id" | sha256sum | cut -c1-64); rm -f "/run/containerd/s/$h"
  done
  for cg in /sys/fs/cgroup/*/"$ns"; do [ -d "$cg" ] && find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null; done
  rm -f "$d/docker.pid" "$d/docker.sock" "$d/regfwd.pid" "$d/exec/containerd/containerd.pid"
  return 0
}
remove_worker() { # leave the swarm for good: stop it, delete its node entry, namespace and state
  local n=$1 id=""
  log "removing worker $n"
  if ping_node "$n"; then id=$(dk "$n" info --format '{{.Swarm.NodeID}}' 2>/dev/null || true); fi
  stop_node "$n" fast
  if [ -n "$id" ] && ping_node mgr; then dk mgr node rm --force "$id" >/dev/null 2>&1 || true; fi
  ip -n "$HUB" link del "v-$n" >/dev/null 2>&1 || true
  ip netns del "$(node_ns "$n")" 2>/dev/null || true
  rm -rf "$(node_dir "$n")"
}
stop_pidfile() { # stop_pidfile FILE PATTERN [GRACE]: SIGTERM, wait up to GRACE (5) s, then SIGKILL
  local p end grace=${3:-5}
  alive "$1" "$2" || { rm -f "$1"; return 0; }
  p=$(pid_of "$1")
  if [ "$grace" -gt 0 ]; then
    kill -TERM "$p" 2>/dev/null || true
    end=$(( $(date +%s) + grace ))
    while kill -0 "$p" 2>/dev/null && [ "$(date +%s)" -lt "$end" ]; do sleep 0.1; done
    if kill -0 "$p" 2>/dev/null; then log "WARNING: $(basename "$1" .pid) ignored SIGTERM for $grace s, SIGKILL"; fi
  fi
  kill -KILL "$p" 2>/dev/null || true
  wait_for 5 sh -c "! kill -0 $p 2>/dev/null || grep -q '^State:.*Z' /proc/$p/status" || log "WARNING: pid $p survived SIGKILL"
  rm -f "$1"
}

# ---------------------------------------------------------------- env
env_text() {
  local workers="" hosts="" n
  echo "export TESTBED_DIR=$TB"
  echo "export TESTBED_PARTS=\"$(parts_up)\""
  if has_part swarm; then
    for n in $(existing_workers); do workers+=" $PFX-$n"; hosts+=" unix://$(node_sock "$n")"; done
    cat <<EOF
export DOCKER_HOST=unix://$(node_sock mgr)
export TESTBED_DOCKER_SOCKET=$(node_sock mgr)
export TESTBED_DOCKER_API_VERSION=1.41
export TESTBED_NODES="$PFX-mgr$workers"
export TESTBED_WORKER_DOCKER_HOSTS="${hosts# }"
EOF
  fi
  if has_part registry; then
    echo "export TESTBED_REGISTRY=127.0.0.1:$REG_PORT"
    echo "export TESTBED_REGISTRY_URL=http://127.0.0.1:$REG_PORT"
    if has_part swarm; then echo "export TESTBED_BUSYBOX_IMAGE=$BB_IMAGE"; fi
  fi
  if has_part mongo; then echo "export TESTBED_MONGODB_URI=\"mongodb://127.0.0.1:$MONGO_PORT/?directConnection=true\""; fi
}

# ---------------------------------------------------------------- commands
cmd_up() {
  local want="" only="swarm,registry,mongo" p
  while [ $# -gt 0 ]; do
    case $1 in
      --only) [ $# -ge 2 ] || die "--only needs a list: swarm,registry,mongo"; only=$2; shift 2 ;;
      --only=*) only=${1#--only=}; shift ;;
      *) if ! [[ $1 =~ ^[0-9]+$ ]] || [ -n "$want" ]; then die "usage: up [N_WORKERS] [--only swarm,registry,mongo]"; fi
         want=$1; shift ;;
    esac
  done
  local swarm=0 registry=0 mongo=0 parts=()
  IFS=, read -r -a parts <<< "$only"
  [ ${#parts[@]} -gt 0 ] || die "--only needs at least one of swarm,registry,mongo"
  for p in "${parts[@]}"; do
    case $p in swarm) swarm=1 ;; registry) registry=1 ;; mongo) mongo=1 ;; *) die "unknown part '$p' (parts: swarm,registry,mongo)" ;; esac
  done
  if [ $swarm = 0 ] && [ -n "$want" ]; then die "N_WORKERS applies to the swarm part only"; fi
  want=${want:-2}
  [ "$want" -le 200 ] || die "N_WORKERS must be 0..200"
  if [ $swarm = 1 ]; then need_root "the swarm part"; fi
  # refuse taken ports before any slow step
  if [ $registry = 1 ] && ! alive "$TB/registry/registry.pid" "$TB/registry/config.yml" && port_open "$REG_PORT"; then
    die "127.0.0.1:$REG_PORT is already in use by another program (set TESTBED_REGISTRY_PORT)"
  fi
  if [ $mongo = 1 ] && ! alive "$TB/mongo/secantusd.pid" "$TB/mongo/data" && port_open "$MONGO_PORT"; then
    die "127.0.0.1:$MONGO_PORT is already in use by another program (set TESTBED_MONGO_PORT)"
  fi
  local req=(); for p in swarm registry mongo; do [ "${!p}" = 1 ] && req+=("$p"); done
  UP_STARTED=1
  ensure_packages "${req[@]}"
  mkdir -p "$CACHE"
  for p in "${req[@]}"; do add_part "$p"; done

  local n nodes=()
  if [ $swarm = 1 ]; then
    for n in $(existing_workers); do [ "${n#w}" -gt "$want" ] && remove_worker "$n"; done
    net_up_hub
    nodes=(mgr); for ((i = 1; i <= want; i++)); do nodes+=("w$i"); done
    for n in "${nodes[@]}"; do net_up_node "$n"; done
    log "namespaces ready (${#nodes[@]} nodes)"
    for n in "${nodes[@]}"; do start_dockerd "$n"; done
  elif has_part swarm; then
    nodes=(mgr); for n in $(existing_workers); do nodes+=("$n"); done
  fi
  if [ $registry = 1 ]; then start_registry; fi
  if [ $mongo = 1 ]; then ensure_venv; start_mongo; fi
  if [ $registry = 1 ]; then wait_registry; log "registry up on 127.0.0.1:$REG_PORT"; fi
  if has_part swarm && has_part registry && registry_ok; then
    start_bridge
    for n in "${nodes[@]}"; do [ -d "$(node_dir "$n")" ] && start_regfwd "$n"; done
  fi
  if [ $swarm = 1 ]; then
    for n in "${nodes[@]}"; do wait_dockerd "$n"; done
    log "dockerd up on ${nodes[*]}"
    swarm_init
    local token jp=(); token=$(dk mgr swarm join-token -q worker)
    for n in "${nodes[@]:1}"; do join_worker "$n" "$token" & jp+=($!); done
    for p in "${jp[@]}"; do wait "$p" || true; done   # never a bare `wait`: the daemons are children too
    for n in "${nodes[@]:1}"; do [ "$(swarm_state "$n")" = active ] || die "worker $n did not join"; done
    log "swarm: $(dk mgr node ls --format '{{.Hostname}}={{.Status}}' | sort | tr '\n' ' ')"
  fi
  if has_part swarm && has_part registry && ping_node mgr && registry_ok; then
    ensure_busybox_image; log "image $BB_IMAGE in the registry"
  fi
  if [ $mongo = 1 ]; then wait_mongo; log "secantusd up on 127.0.0.1:$MONGO_PORT"; fi
  env_text > "$TB/env.sh"
  cat "$TB/env.sh"
}

cmd_status() {
  local rc=0 n
  if [ ! -s "$TB/parts" ]; then echo "testbed: DOWN (nothing in $TB)"; return 1; fi
  printf '%-10s %-8s %s\n' PART STATE DETAIL
  if has_part swarm; then
    for n in mgr $(existing_workers); do
      if ping_node "$n"; then
        printf '%-10s %-8s pid=%s swarm=%s netns=%s\n' "$n" up "$(pid_of "$(node_dir "$n")/docker.pid")" "$(swarm_state "$n")" "$(node_ns "$n")"
      else printf '%-10s %-8s\n' "$n" DOWN; rc=1; fi
    done
  fi
  if has_part registry; then
    if registry_ok; then
      printf '%-10s %-8s 127.0.0.1:%s repos=%s\n' registry up "$REG_PORT" "$(curl -s --max-time 2 "http://127.0.0.1:$REG_PORT/v2/_catalog" | jq -c .repositories)"
    else printf '%-10s %-8s\n' registry DOWN; rc=1; fi
  fi
  if has_part mongo; then
    if alive "$TB/mongo/secantusd.pid" "$TB/mongo/data" && port_open "$MONGO_PORT"; then
      printf '%-10s %-8s 127.0.0.1:%s pid=%s\n' mongo up "$MONGO_PORT" "$(pid_of "$TB/mongo/secantusd.pid")"
    else printf '%-10s %-8s\n' mongo DOWN; rc=1; fi
  fi
  if has_part swarm && ping_node mgr; then dk mgr node ls; fi
  return $rc
}

cmd_down() {
  local purge=${1:-} n s sp=()
  case $purge in ""|--purge) ;; *) die "usage: down [--purge]" ;; esac
  local nodes=(); for n in $(existing_workers) mgr; do
    if [ -d "$(node_dir "$n")" ] || has_netns "$(node_ns "$n")"; then nodes+=("$n"); fi
  done
  if [ ${#nodes[@]} -gt 0 ] || [ -n "$(our_namespaces)" ]; then need_root "removing the swarm"; fi
  if ping_node mgr; then   # no services: nothing gets rescheduled while the nodes stop
    for s in $(api mgr http://d/v1.41/services 2>/dev/null | jq -r '.[].ID' 2>/dev/null || true); do
      api mgr -X DELETE "http://d/v1.41/services/$s" >/dev/null 2>&1 || true
    done
  fi
  for n in "${nodes[@]}"; do stop_node "$n" fast & sp+=($!); done
  for n in "${sp[@]}"; do wait "$n" || true; done
  [ ${#nodes[@]} -eq 0 ] || log "nodes stopped"
  sp=()
  stop_pidfile "$TB/registry/bridge.pid" "$TB/registry/registry.sock" & sp+=($!)
  stop_pidfile "$TB/registry/registry.pid" "$TB/registry/config.yml" & sp+=($!)
  # its data is deleted next, so a graceful shutdown (3-4 s) buys nothing; it survives SIGKILL anyway
  stop_pidfile "$TB/mongo/secantusd.pid" "$TB/mongo/data" 0 & sp+=($!)
  for n in "${sp[@]}"; do wait "$n" || true; done
  log "registry and secantusd stopped"
  for n in $(our_namespaces); do ip netns del "$n" 2>/dev/null || log "WARNING: could not delete netns $n"; done
  if ip route show "$NET.0/24" 2>/dev/null | grep '^unreachable' >/dev/null; then ip route del unreachable "$NET.0/24"; fi
  if [ "$purge" = --purge ]; then rm -rf "$TB"
  else find "$TB" -mindepth 1 -maxdepth 1 ! -name cache -exec rm -rf {} + 2>/dev/null || true; rmdir "$TB" 2>/dev/null || true; fi
  log "down (cache $(if [ "$purge" = --purge ]; then echo removed; else echo "kept in $CACHE"; fi))"
}

cmd_stop_node() { # stop_node NAME [--kill|--kill-daemon]
  local n=${1:-} p; [ -n "$n" ] || die "usage: stop-node NAME [--kill|--kill-daemon]"
  need_root "stop-node"; [ -d "$(node_dir "$n")" ] || die "no node $n"
  p=$(pid_of "$(node_dir "$n")/docker.pid")
  case ${2:-} in
    --kill) stop_node "$n" hard; log "node $n powered off (dockerd, containerd, shims and containers SIGKILLed)" ;;
    --kill-daemon) [ -n "$p" ] || die "dockerd $n is not running"; kill -KILL "$p"
                   log "dockerd $n SIGKILLed; its containers keep running (a restart stops them first, up to their stop timeout)" ;;
    "") [ -n "$p" ] || die "dockerd $n is not running"; kill -TERM "$p"
        wait_for 60 sh -c "! kill -0 $p" || die "dockerd $n still runs 60 s after SIGTERM"; log "dockerd $n stopped (SIGTERM)" ;;
    *) die "usage: stop-node NAME [--kill|--kill-daemon]" ;;
  esac
}

cmd_start_node() {
  local n=${1:-}; [ -n "$n" ] || die "usage: start-node NAME"
  need_root "start-node"; [ -d "$(node_dir "$n")" ] || die "no node $n"
  net_up_node "$n"
  start_dockerd "$n"
  if has_part registry && [ -S "$TB/registry/registry.sock" ]; then start_regfwd "$n"; fi
  wait_dockerd "$n"; log "dockerd $n up"
}

cmd_pack() { # pack IMAGE SRC[:DST]...
  [ $# -ge 2 ] || die "usage: pack IMAGE SRC[:DST]..."
  ping_node mgr || die "the swarm is not up"
  local image=$1; shift
  local root spec src dst lib entry=""
  root=$(mktemp -d "$TB/pack.XXXXXX"); mkdir -p "$root/tmp"; chmod 1777 "$root/tmp"
  for spec in "$@"; do
    src=${spec%%:*}; dst=${spec#*:}; [ "$dst" = "$spec" ] && dst=$src; [ -n "$entry" ] || entry=$dst
    [ -f "$src" ] || { rm -rf "$root"; die "no file $src"; }
    install -D -m755 "$src" "$root$dst"
    while read -r lib; do
      install -D -m755 "$(readlink -f "$lib")" "$root$lib"
    done < <(ldd "$src" 2>/dev/null | awk '/=>/ && $3 ~ /^\// {print $3} !/=>/ && $1 ~ /^\// {print $1}')
  done
  tar -C "$root" -c . | dk mgr import --change "ENTRYPOINT [\"$entry\"]" --change "LABEL org.testbed.packed=$(basename "$entry")" - "$image" >/dev/null
  rm -rf "$root"
  case $image in "127.0.0.1:$REG_PORT/"*) dk mgr push -q "$image" >/dev/null ;; esac
  echo "$image"
}

usage() { awk 'NR > 1 && /^# Variables/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; }

main() {
  local cmd=${1:-}; shift || true
  case $cmd in up|down|stop-node|start-node)   # one changer at a time
    mkdir -p "$TB"; exec 9>"$TB/.lock"; flock -w 300 9 || die "another testbed.sh holds $TB/.lock" ;;
  esac
  case $cmd in
    up) cmd_up "$@"; log "up done" ;;
    status) cmd_status || exit 1 ;;
    env) if [ -f "$TB/env.sh" ]; then cat "$TB/env.sh"; else die "the test bed is not up"; fi ;;
    down) cmd_down "$@" ;;
    stop-node) cmd_stop_node "$@" ;;
    start-node) cmd_start_node "$@" ;;
    pack) cmd_pack "$@" ;;
    -h|--help|help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}
main "$@"
