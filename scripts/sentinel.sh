#!/usr/bin/env bash
# Throwaway Redis Sentinel set for tests and trials: a primary, one replica and three
# sentinels on loopback, all under DIR, none persisted.
#
#   scripts/sentinel.sh start DIR [BASE_PORT]   # primary BASE (default 46379), replica BASE+1,
#                                               # sentinels BASE+10..BASE+12, master name "contactd"
#   scripts/sentinel.sh stop DIR                # stops what start started under DIR
#
# Installs Debian's redis-server/redis-sentinel when missing (as scripts/services.sh does);
# without a redis-sentinel binary `redis-server --sentinel` is the same program.
set -euo pipefail

cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR [BASE_PORT]" >&2; exit 64; }
base=${3:-46379}
name=contactd

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
apt_install() {
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

cli() { redis-cli -h 127.0.0.1 -p "$1" "${@:2}" 2>/dev/null; }

stop() {
  for pidfile in "$dir"/*.pid; do
    [ -e "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

if [ "$cmd" = stop ]; then stop; exit 0; fi
[ "$cmd" = start ] || { echo "usage: $0 start|stop DIR [BASE_PORT]" >&2; exit 64; }

if ! command -v redis-server >/dev/null; then
  echo "sentinel: installing redis-server and redis-sentinel"
  apt_install redis-server redis-sentinel
fi
start_sentinel() { # conf
  if command -v redis-sentinel >/dev/null; then redis-sentinel "$1"; else redis-server "$1" --sentinel; fi
}

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
server() { # port extra-args...
  local port=$1; shift
  mkdir -p "$dir/$port"
  redis-server --port "$port" --bind 127.0.0.1 --daemonize yes --save "" --appendonly no \
    --dir "$dir/$port" --pidfile "$dir/redis-$port.pid" --logfile "$dir/redis-$port.log" "$@"
}
server "$base"
server $((base + 1)) --replicaof 127.0.0.1 "$base"
for i in 10 11 12; do
  port=$((base + i))
  cat >"$dir/sentinel-$port.conf" <<CONF
port $port
bind 127.0.0.1
daemonize yes
pidfile $dir/sentinel-$port.pid
logfile $dir/sentinel-$port.log
dir $dir
sentinel monitor $name 127.0.0.1 $base 2
sentinel down-after-milliseconds $name 1000
sentinel failover-timeout $name 4000
sentinel parallel-syncs $name 1
CONF
  start_sentinel "$dir/sentinel-$port.conf"
done

# ready: the replica in sync, and every sentinel knows the replica and the two others
ready() {
  cli $((base + 1)) info replication | grep -q "master_link_status:up" || return 1
  for i in 10 11 12; do
    [ "$(cli $((base + i)) sentinel replicas $name | grep -c '^ip$')" -ge 1 ] || return 1
    [ "$(cli $((base + i)) sentinel sentinels $name | grep -c '^ip$')" -ge 2 ] || return 1
  done
}
for _ in $(seq 1 100); do ready && break; sleep 0.2; done
if ! ready; then
  echo "sentinel: not ready after 20 s (logs in $dir)" >&2
  stop
  exit 69
fi
echo "sentinel: primary 127.0.0.1:$base, replica 127.0.0.1:$((base + 1)), sentinels 127.0.0.1:$((base + 10))-$((base + 12)), master_name $name"
