# hook.sh - sourced by guest.sh (busybox sh in the lab VM): after each phase, what iw and
# mesh-monitor say about the mesh, printed between markers for tests/mesh/compare.py.
#
# Per node and table (station, mpath, mpp): iw's dump, mesh-monitor's JSON, iw's dump again,
# so that mesh-monitor's answer is bracketed by two of iw's taken just before and after. On
# node 0 also mesh-monitor's text tables, and around `topology --json|--dot` and `status` the
# same bracket of iw dumps. The daemon runs in node 0's namespace from phase "created" (before
# the mesh is joined) to "end", with the config below; what it logged since the last phase
# (stderr, and syslog through busybox syslogd) is printed at each phase.
#   @@@ BEGIN PHASE NODE TAG up=SECONDS
#   ...output...
#   @@@ END PHASE NODE TAG rc=STATUS up=SECONDS

MM=/usr/bin/mesh-monitor
# blk NODE TAG CMD...: CMD's output (stdout and stderr) between markers
blk() {
  _n=$1 _t=$2
  shift 2
  echo "@@@ BEGIN $PHASE $_n $_t up=$(up)"
  "$@" 2>&1
  echo "@@@ END $PHASE $_n $_t rc=$? up=$(up)"
}
# newlines FILE VAR: the lines of FILE after the first $VAR, and VAR moved past them
newlines() {
  eval "_seen=\${$2:-0}"
  [ -f "$1" ] || return 0
  _all=$(wc -l <"$1")
  tail -n "+$((_seen + 1))" "$1" | head -n "$((_all - _seen))"
  eval "$2=$_all"
}

# iw_params: node 0's mesh parameters as "name = value unit" (iw prints the names without an
# argument, and one value per call)
iw_params() {
  N 0 sh -c 'for p in $(iw dev mesh0 get mesh_param | sed -n "s/^ - //p"); do
    echo "$p = $(iw dev mesh0 get mesh_param "$p")"; done'
}

hook_start_daemon() {
  # The test config: every mesh interface, a poll each second, a metric 50 % above the best
  # seen is "degraded", the last 64 events in status.
  mkdir -p /etc /var/run
  cat >/etc/mesh.conf <<'EOF'
config mesh-monitor 'main'
	option enabled '1'
	option interval '1'
	option metric_threshold '50'
	option event_ring '64'
EOF
  # and one that must be refused: a check that accepts anything checks nothing
  cat >/etc/mesh-bad.conf <<'EOF'
config mesh-monitor 'main'
	option interval 'often'
EOF
  syslogd -O /tmp/messages
  blk 0 mm-check N 0 "$MM" -c /etc/mesh.conf check
  blk 0 mm-check-bad N 0 "$MM" -c /etc/mesh-bad.conf check
  # nsenter itself (not the N function: a backgrounded function is a subshell) so that $! is
  # the daemon: nsenter execs it
  nsenter -t "$P0" -n "$MM" -c /etc/mesh.conf -v run >/tmp/mmd.log 2>&1 &
  MMD=$!
  usleep 200000
  echo "LAB-DAEMON pid=$MMD comm=$(cat /proc/$MMD/comm 2>/dev/null) up=$(up)"
}

# hook_idle: the shipped poll interval (10 s) on node 1's radio, the mesh formed and nothing
# else asked of it: the voluntary context switches of all its threads over 30 s (each sleep
# that ends is one) are its wake-ups, at most one per 10 s wanted.
hook_idle() {
  cat >/etc/mesh-idle.conf <<'EOF'
config mesh-monitor 'main'
	option enabled '1'
	option control_socket '/var/run/mesh-idle.sock'
EOF
  nsenter -t "$P1" -n "$MM" -c /etc/mesh-idle.conf run >/tmp/mm-idle.log 2>&1 &
  _idle=$!
  sleep 3
  _before=$(switches "$_idle")
  sleep 30
  _after=$(switches "$_idle")
  kill -0 "$_idle" 2>/dev/null && echo "LAB-IDLE wakeups=$((_after - _before)) seconds=30"
  kill "$_idle"
}
switches() { cat /proc/"$1"/task/*/status | awk '/^voluntary_ctxt_switches/ {s += $2} END {print s}'; }

hook() {
  [ -x "$MM" ] || { echo "LAB-NOBIN no $MM in the guest"; MM=/bin/false; }
  [ "$1" = created ] && hook_start_daemon
  [ "$1" = full ] && hook_idle
  for i in 0 1 2; do
    for k in station mpath mpp; do
      case $k in station) c=stations ;; *) c=$k ;; esac
      blk $i iw-$k-1 N $i iw dev mesh$i $k dump
      blk $i mm-$k N $i "$MM" $c --json -i mesh$i
      blk $i iw-$k-2 N $i iw dev mesh$i $k dump
    done
  done
  # node 0: the text tables (they line up with iw's columns), topology and status
  for k in station mpath mpp; do
    case $k in station) c=stations ;; *) c=$k ;; esac
    blk 0 iw-$k-t1 N 0 iw dev mesh0 $k dump
    blk 0 mm-$k-text N 0 "$MM" $c -i mesh0
    blk 0 iw-$k-t2 N 0 iw dev mesh0 $k dump
  done
  # the mesh config where it changes: the defaults, and mesh_plink_timeout 8 while silent
  case $1 in full | silent)
    blk 0 iw-config-1 iw_params
    blk 0 mm-config N 0 "$MM" config --json -i mesh0
    blk 0 mm-config-text N 0 "$MM" config -i mesh0
    blk 0 iw-config-2 iw_params
    ;;
  esac
  for k in station mpath mpp; do blk 0 iw-$k-s1 N 0 iw dev mesh0 $k dump; done
  # status is the daemon's last poll (one each second): a poll after iw's first dumps
  usleep 1500000
  blk 0 mm-topology-json N 0 "$MM" -c /etc/mesh.conf topology --json
  blk 0 mm-status N 0 "$MM" -c /etc/mesh.conf status
  blk 0 mm-topology-dot N 0 "$MM" -c /etc/mesh.conf topology --dot
  for k in station mpath mpp; do blk 0 iw-$k-s2 N 0 iw dev mesh0 $k dump; done
  # a poll interval and more for the daemon to see what this phase changed
  sleep 2
  if [ "$1" = end ] && [ -n "${MMD:-}" ]; then
    if kill -0 "$MMD" 2>/dev/null; then
      echo "LAB-DAEMON alive at end"
      kill "$MMD"
      for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$MMD" 2>/dev/null || break; usleep 200000; done
      kill -0 "$MMD" 2>/dev/null && { echo "LAB-DAEMON ignored SIGTERM for 2 s"; kill -9 "$MMD"; }
    else
      echo "LAB-DAEMON gone before end"
    fi
    wait "$MMD"
    echo "LAB-DAEMON exit=$? up=$(up)"
  fi
  blk 0 mmd-log newlines /tmp/mmd.log MMD_SEEN
  blk 0 syslog newlines /tmp/messages SYSLOG_SEEN
}
