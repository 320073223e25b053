#!/usr/bin/env bash
# A throwaway single-node Ceph cluster with an S3 gateway (RADOS Gateway), for tests.
#   scripts/ceph-rgw.sh install     apt-get installs radosgw, ceph-mon, ceph-osd, ceph-common (if missing)
#   scripts/ceph-rgw.sh start DIR   boots mon + memstore osd + radosgw inside DIR, prints one JSON line
#   scripts/ceph-rgw.sh stop DIR    kills exactly the daemons recorded in DIR/pids, removes DIR
# Everything (config, data, sockets, logs, pid files) lives in DIR; stdout carries only the JSON.
# Measured facts and pitfalls behind the choices below: shared/notes/ceph-rgw.md.
set -euo pipefail

WAIT_SECONDS=${CEPH_RGW_WAIT_SECONDS:-60}
MEMSTORE_BYTES=${CEPH_RGW_MEMSTORE_BYTES:-1073741824}
RGW_POOLS=(.rgw.root default.rgw.control default.rgw.meta default.rgw.log
  default.rgw.buckets.index default.rgw.buckets.data default.rgw.buckets.non-ec)

log() { echo "ceph-rgw: $*" >&2; }

# Seconds since start-up began, to 0.1 s, for the progress lines on stderr.
elapsed() { awk -v now="$EPOCHREALTIME" -v t0="$T0" 'BEGIN { printf "%.1f", now - t0 }'; }
phase() { log "$* ($(elapsed) s)"; }

usage() {
  echo "usage: $0 install | start DIR | stop DIR" >&2
  exit 2
}

install_packages() {
  if command -v radosgw >/dev/null 2>&1; then
    log "radosgw already installed"
    return 0
  fi
  apt-get update >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    radosgw ceph-mon ceph-osd ceph-common >&2
}

listening_ports() { ss -ltnH | awk '{ n = split($4, a, ":"); print a[n] }'; }

# A random port in [low, low+span) that nothing listens on. Listening ports stay below the kernel's
# ephemeral range (32768+) so outgoing connections never hold them.
free_port() {
  local low=$1 span=$2 port busy tries
  busy=$(listening_ports)
  for tries in $(seq 1 200); do
    port=$((low + RANDOM % span))
    if ! grep -qx "$port" <<<"$busy"; then
      echo "$port"
      return 0
    fi
  done
  log "no free port in [$low, $((low + span)))"
  return 1
}

random_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

# Runs a daemon in the foreground in its own session (radosgw blocks its caller until it has
# connected, pitfall 2) and records its pid; its output goes to a file, never to our stdout.
spawn_daemon() {
  local name=$1
  shift
  setsid "$@" </dev/null >>"$DIR/log/$name.out" 2>&1 &
  echo $! >"$DIR/pids/$name.pid"
}

tail_logs() {
  local file
  for file in "$@"; do
    [ -f "$file" ] || continue
    echo "---- last lines of $file ----" >&2
    tail -n 30 "$file" >&2
  done
}

# wait_until DESCRIPTION LOGFILES... -- COMMAND...: retries COMMAND until it succeeds or WAIT_SECONDS pass.
wait_until() {
  local what=$1 logs=() deadline
  shift
  while [ "$1" != "--" ]; do logs+=("$1"); shift; done
  shift
  deadline=$((SECONDS + WAIT_SECONDS))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "timed out after ${WAIT_SECONDS}s waiting for $what"
      tail_logs "${logs[@]}"
      return 1
    fi
    sleep 0.1
  done
}

# One python process through librados instead of one `ceph` CLI process per command: on 2 busy
# cores, 14 CLI processes took ~2.5 s. Creating the pools up front in parallel avoids radosgw
# creating them one by one (pitfall 3). Connecting waits for the monitor, up to WAIT_SECONDS.
run_mon_commands() {
  timeout $((WAIT_SECONDS + 5)) /usr/bin/python3 - "$CONF" "$WAIT_SECONDS" "$OSD_UUID" "${RGW_POOLS[@]}" <<'PY'
import json, sys
from concurrent.futures import ThreadPoolExecutor
import rados

conf, timeout, osd_uuid, pools = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
cluster = rados.Rados(conffile=conf)
cluster.connect(timeout=timeout)

def command(**cmd):
    ret, out, err = cluster.mon_command(json.dumps(cmd), b'', timeout=timeout)
    if ret != 0:
        raise RuntimeError(f"{cmd['prefix']} {cmd.get('pool', '')}: error {ret}: {err}")
    return out.decode().strip()

osd_id = command(prefix='osd new', uuid=osd_uuid)
if osd_id != '0':
    raise RuntimeError(f'expected osd id 0, got {osd_id!r}')

def create(pool):
    command(prefix='osd pool create', pool=pool, pg_num=8, pgp_num=8)
    command(prefix='osd pool application enable', pool=pool, app='rgw')

with ThreadPoolExecutor(len(pools)) as threads:
    list(threads.map(create, pools))
cluster.shutdown()
print('osd.0 registered, pools created:', ' '.join(pools))
PY
}

osd_is_active() { grep -q 'state: booting -> active' "$DIR/log/osd.0.log"; }

# An anonymous GET / answers with S3 XML (ListAllMyBucketsResult or an Error) once radosgw serves.
s3_answers() { grep -q 'ListAllMyBucketsResult\|<Error>' <<<"$(curl -s --max-time 2 "$ENDPOINT/")"; }

write_config() {
  cat >"$CONF" <<EOF
[global]
fsid = $FSID
mon host = [v2:127.0.0.1:$MON_PORT]
ms bind msgr1 = false
# the OSD would otherwise listen on every interface
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind port min = $OSD_PORT_MIN
ms bind port max = $((OSD_PORT_MIN + 63))
# with auth none radosgw still asks for msgr2 secure mode and hangs unless every mode is crc (pitfall 1)
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
ms mon service mode = crc
ms mon cluster mode = crc
ms client mode = crc
ms service mode = crc
ms cluster mode = crc
keyring = $DIR/keyring
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
pid file = $DIR/run/\$name.ceph.pid
log file = $DIR/log/\$name.log
crash dir = $DIR/crash
mon cluster log file = $DIR/log/cluster.log
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
# commits cluster map changes every 50 ms instead of 1 s (pitfall 3)
paxos propose interval = 0.05

[mon]
mon data = $DIR/mon.\$id

[osd]
osd data = $DIR/osd.\$id
osd objectstore = memstore
memstore device bytes = $MEMSTORE_BYTES

[client.rgw.test]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw data = $DIR/rgw
rgw thread pool size = 64
rgw init timeout = $WAIT_SECONDS
EOF
}

start_cluster() {
  DIR=$(mkdir -p "$1" && cd "$1" && pwd)
  CONF=$DIR/ceph.conf
  if [ -e "$CONF" ]; then
    log "$DIR already holds a cluster: stop it first"
    return 1
  fi
  command -v radosgw >/dev/null 2>&1 || { log "radosgw is not installed: run '$0 install'"; return 1; }
  mkdir -p "$DIR"/{log,run,pids,crash,rgw,mon.a,osd.0}
  export CEPH_CONF=$CONF
  # On failure, stop what was started but keep DIR and its logs for inspection.
  READY=0
  trap '[ "$READY" = 1 ] || kill_daemons "$DIR"' EXIT

  FSID=$(cat /proc/sys/kernel/random/uuid)
  OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
  MON_PORT=$(free_port 20000 3000)
  RGW_PORT=$(free_port 23000 3000)
  while [ "$RGW_PORT" = "$MON_PORT" ]; do RGW_PORT=$(free_port 23000 3000); done
  OSD_PORT_MIN=$((26000 + 64 * (RANDOM % 90)))
  ENDPOINT=http://127.0.0.1:$RGW_PORT
  ACCESS_KEY=$(random_hex 10 | tr a-f A-F)
  SECRET_KEY=$(random_hex 20)
  write_config
  T0=$EPOCHREALTIME

  ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n mon. --cap mon 'allow *' >&2
  monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT]" "$DIR/monmap" >&2
  ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/keyring" >&2
  spawn_daemon mon.a ceph-mon -c "$CONF" -f -i a

  # The OSD's store is made while the monitor registers osd.0 and the RGW pools (both wait for it).
  ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$OSD_UUID" >>"$DIR/log/osd.0.out" 2>&1 &
  local mkfs_pid=$!
  run_mon_commands >>"$DIR/log/mon-commands.out" 2>&1 || {
    log "registering osd.0 and creating the RGW pools failed"
    tail_logs "$DIR/log/mon-commands.out" "$DIR/log/mon.a.log" "$DIR/log/mon.a.out"
    false
  }
  phase "monitor up, osd.0 registered, pools created"
  wait "$mkfs_pid" || { log "ceph-osd --mkfs failed"; tail_logs "$DIR/log/osd.0.out" "$DIR/log/osd.0.log"; false; }
  spawn_daemon osd.0 ceph-osd -c "$CONF" -f -i 0
  wait_until "osd.0 up" "$DIR/log/osd.0.log" "$DIR/log/osd.0.out" -- osd_is_active
  phase "osd up"

  spawn_daemon rgw radosgw -c "$CONF" -f -n client.rgw.test
  wait_until "S3 at $ENDPOINT" "$DIR/log/client.rgw.test.log" "$DIR/log/rgw.out" -- s3_answers
  phase "radosgw answers"
  timeout "$WAIT_SECONDS" radosgw-admin -c "$CONF" user create --uid=test --display-name=test \
    --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >>"$DIR/log/user.out" 2>&1 \
    || { log "creating the S3 user failed"; tail_logs "$DIR/log/user.out"; false; }
  READY=1

  phase "S3 ready at $ENDPOINT, user created (dir $DIR)"
  printf '{"endpoint":"%s","accessKeyId":"%s","secretAccessKey":"%s","region":"us-east-1","dir":"%s"}\n' \
    "$ENDPOINT" "$ACCESS_KEY" "$SECRET_KEY" "$DIR"
}

# A recorded pid is signalled only while its command line still names DIR, so a pid reused by
# another process after the daemon died is never touched.
daemon_alive() {
  local pid=$1 dir=$2
  [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$dir/ceph.conf"
}

# TERM, then KILL whichever of the given pids still runs after a few seconds.
terminate_pids() {
  local dir=$1 pid pids=() alive deadline
  shift
  for pid in "$@"; do
    if daemon_alive "$pid" "$dir"; then pids+=("$pid"); fi
  done
  [ "${#pids[@]}" -gt 0 ] || return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  deadline=$((SECONDS + 5))
  while :; do
    alive=()
    for pid in "${pids[@]}"; do
      if daemon_alive "$pid" "$dir"; then alive+=("$pid"); fi
    done
    [ "${#alive[@]}" -gt 0 ] || return 0
    [ "$SECONDS" -lt "$deadline" ] || break
    sleep 0.1
  done
  log "killing ${alive[*]} (still running after TERM)"
  kill -KILL "${alive[@]}" 2>/dev/null || true
  deadline=$((SECONDS + 5))
  for pid in "${alive[@]}"; do
    while daemon_alive "$pid" "$dir" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
  done
}

# Stopped in reverse start order, each while the daemons below it still run: radosgw's graceful
# shutdown waits on the OSD, and an OSD waits 5 s for a monitor that is already gone.
kill_daemons() {
  local dir=$1 stage file pids
  [ -d "$dir/pids" ] || return 0
  for stage in 'rgw*' 'osd.*' 'mon.*'; do
    pids=()
    for file in "$dir"/pids/$stage.pid; do
      if [ -f "$file" ]; then pids+=("$(cat "$file")"); fi
    done
    terminate_pids "$dir" "${pids[@]}"
  done
}

stop_cluster() {
  local dir
  [ -d "$1" ] || { log "$1 does not exist: nothing to stop"; return 0; }
  dir=$(cd "$1" && pwd)
  kill_daemons "$dir"
  # Refuse to delete a folder that does not look like ours.
  if [ -f "$dir/ceph.conf" ] || [ -d "$dir/pids" ]; then
    rm -rf "$dir"
  else
    log "$dir holds no ceph.conf nor pids/: left in place"
  fi
}

case "${1:-}" in
  install) [ $# -eq 1 ] || usage; install_packages ;;
  start) [ $# -eq 2 ] || usage; start_cluster "$2" ;;
  stop) [ $# -eq 2 ] || usage; stop_cluster "$2" ;;
  *) usage ;;
esac
