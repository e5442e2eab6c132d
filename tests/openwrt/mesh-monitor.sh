#!/bin/bash
# mesh-monitor.sh - the mesh-monitor package in the OpenWrt lab: installed with the real opkg,
# driven by the real procd, ubus, uci, validate_data and logd. The lab's kernel is the host's,
# which has no wireless: the daemon must start, idle, and say why in its status (the mesh
# itself is tested in the mac80211_hwsim lab).
#
#   - the init script's datatypes as validate_data reads them, good and bad values;
#   - opkg install: user mesh-monitor (uid 6150); shipped enabled, so the postinst starts it;
#   - a procd instance whose status says nl80211 is not available and shows no interface;
#   - runs as user mesh-monitor with CAP_NET_ADMIN only;
#   - the Prometheus file written by that user, in the directory it was given;
#   - reload (uci commit + reload_config) in place: same pid, the new interval in status;
#     a netifd interface event (procd's "interface.*" trigger) brings a reload and a poll;
#   - a bad option (one validate_data refuses, one only `mesh-monitor check` refuses):
#     reload keeps the running daemon, start refuses, logread names the option;
#   - kill -9: procd respawns it; stop; opkg remove.
#
#   tests/openwrt/mesh-monitor.sh   (as root; DIST, V6ONLY_LAB and LAB_SH as in lib.sh)
set -u
. "$(dirname "$0")/lib.sh"
lab_ready_or_finish
[ -f "$(ipk mesh-monitor)" ] || { fail "setup" "no mesh-monitor package in $DIST/$ARCH (make -f Makefile.openwrt)"; finish; }

# The init script's datatypes as ubox's validate_data reads them: values that must pass and
# values that must fail (metric_max past 32 bits is the daemon's check's to refuse).
dtype() { sed -n "s/.*'$1:\([^']*\)'.*/\1/p" "$REPO/feed/mesh-monitor/files/mesh-monitor.init" | sed 's/:[^:)]*$//' | head -n 1; }
types_ok() {
  local v wrong="" IFS=,
  for v in $2; do "$HOSTBIN/validate_data" "$1" "$v" >/dev/null 2>&1 || wrong+=" '$v' refused"; done
  for v in $3; do "$HOSTBIN/validate_data" "$1" "$v" >/dev/null 2>&1 && wrong+=" '$v' accepted"; done
  [ -z "$wrong" ] || { echo "$1:$wrong"; return 1; }
}
while read -r opt good bad; do
  t=$(dtype "$opt")
  if [ -z "$t" ]; then fail "validate_data: $opt" "no such option in mesh-monitor.init"; continue; fi
  check "validate_data: $opt as $t" types_ok "$t" "$good" "$bad"
done <<'TYPES'
interface mesh0,phy0-mesh0,wlan0.1,mesh0 mesh1 abcdefghijklmnop,a/b
interval 1,10,3600 0,3601,10s
metric_threshold 0,50,10000 -1,10001,50%
metric_max 0,5000,4294967295 -1,x
event_ring 0,64,4096 -1,4097
enabled 0,1 2,maybe
TYPES

lab_start --net || finish
R=$(lroot)
cp "$(ipk mesh-monitor)" "$L/lab/share/"
lexec reload_config

# --- helpers (ubus answers read with the lab's jsonfilter, run on the host), as ripng.sh's
has() { grep -q -- "$2" <<<"$1" || { echo "$1"; return 1; }; }
svc_json() { lexec ubus call service list '{"name":"mesh-monitor"}'; }
inst() { svc_json | "$JF" -e "@['mesh-monitor'].instances.*.$1"; }
running() { [ "$(inst running)" = true ]; }
cmdline() { svc_json | "$JF" -e "@['mesh-monitor'].instances.*.command[*]" | paste -sd' '; }
gone() { [ -z "$(svc_json | "$JF" -e "@['mesh-monitor'].instances.*")" ] && ! lexec pidof mesh-monitor >/dev/null; }
same_pid() { [ -n "$1" ] && [ "$(inst pid)" = "$1" ] && running; }
new_pid() { local p; p=$(inst pid); [ -n "$p" ] && [ "$p" != "$1" ] && running; }
status() { lexec mesh-monitor status 2>/dev/null; }
# status_is JSONPATH VALUE
status_is() { [ "$(status | "$JF" -e "$1")" = "$2" ]; }
polls() { status | "$JF" -e '@.polls'; }
MARKS=0
mark() { MARKS=$((MARKS + 1)); lexec logger -t mesh-monitor-test "MARK-$MARKS"; }
since_mark() { lexec logread | sed -n "/mesh-monitor-test: MARK-$MARKS\$/,\$p"; }
logged() { since_mark | grep -q -- "$1" || { since_mark | tail -n 20; return 1; }; }
uci_commit() { lsh "{ $1; } >/dev/null && uci commit mesh-monitor && reload_config"; }

out=$(lsh "opkg install /lab/share/mesh-monitor_*_$ARCH.ipk" 2>&1)
lexec reload_config
check "opkg install mesh-monitor" has "$out" "Configuring mesh-monitor"
check "postinst enabled it (/etc/rc.d/S70mesh-monitor)" test -L "$R/etc/rc.d/S70mesh-monitor"
check "user mesh-monitor (uid 6150) made by the postinst" grep -q '^mesh-monitor:[^:]*:6150:6150:' "$R/etc/passwd"
check "shipped enabled: postinst started it under procd" wait_for 5 running
cl=$(cmdline)
if [ "$cl" = "/usr/sbin/mesh-monitor run" ]; then pass "ubus service list: command '/usr/sbin/mesh-monitor run'"; else fail "command line" "'$cl'"; fi
check "status: no wireless here, and it says so" \
  wait_for 5 status_is '@.state' "nl80211 not available (no wireless driver loaded)"
check "status: no interfaces, stations or events" \
  eval 'status_is "@.nl80211" false && [ -z "$(status | "$JF" -e "@.interfaces[*]")" ] && [ -z "$(status | "$JF" -e "@.events[*]")" ]'
check "logread says it idles" eval 'lexec logread | grep -q "mesh-monitor.*nl80211 not available"'

proc_line() { lexec cat "/proc/$(inst pid)/status" | awk -v f="$1:" '$1 == f {$1 = ""; sub(/^ /, ""); print}'; }
got="uid $(proc_line Uid), CapEff $(proc_line CapEff), CapPrm $(proc_line CapPrm), NoNewPrivs $(proc_line NoNewPrivs)"
want="uid 6150 6150 6150 6150, CapEff 0000000000001000, CapPrm 0000000000001000, NoNewPrivs 1"
if [ "$got" = "$want" ]; then pass "runs as user mesh-monitor with CAP_NET_ADMIN only ($got)"; else fail "user and capabilities" "got: $got; want: $want"; fi

# The Prometheus file, in a directory the daemon makes before it drops root (restart: the
# directory is made at start).
uci_commit "uci set mesh-monitor.main.prometheus_file=/var/prometheus/mesh-monitor.prom"
lsh "/etc/init.d/mesh-monitor restart" >/dev/null 2>&1
prom() { cat "$R/var/prometheus/mesh-monitor.prom" 2>/dev/null; }
check "Prometheus file written (/var/prometheus/mesh-monitor.prom)" \
  wait_for 10 eval 'prom | grep -q "^# TYPE mesh_stations_estab gauge$"'
check "... with the event counts" eval 'prom | grep -q "^mesh_monitor_events_total{kind=\"peer_down\"} 0$"'
check "... owned by mesh-monitor (written after the drop)" \
  eval '[ "$(stat -c %u "$R/var/prometheus/mesh-monitor.prom")" = 6150 ]'
check "... and no temporary file left" eval '! ls -a "$R/var/prometheus" | grep -q tmp'

pid=$(inst pid)
uci_commit "uci set mesh-monitor.main.interval=3600"
check "reload (interval 3600): status shows it" wait_for 10 status_is '@.interval' 3600
check "... in place (pid $pid, SIGHUP)" same_pid "$pid"

# (not $n: wait_for has a local n of its own)
polls_before=$(polls)
lexec ubus call service event '{"type":"interface.update","data":{"interface":"mesh"}}' >/dev/null
check "a netifd interface event -> reload -> a poll at once (polls $polls_before -> more)" \
  wait_for 10 eval '[ "$(polls)" -gt "$polls_before" ]'
check "... in place (pid $pid)" same_pid "$pid"

mark
uci_commit "uci set mesh-monitor.main.interval=0"
check "reload with interval 0: logread names it (validate_data)" wait_for 10 logged "interval: '0' is not a valid range(1,3600)"
check "... and says the running daemon is kept" logged "keeping the running daemon"
sleep 1
check "... still running (pid $pid), interval 3600" eval 'same_pid "$pid" && status_is "@.interval" 3600'
mark
uci_commit "uci set mesh-monitor.main.interval=60 && uci set mesh-monitor.main.topology_file=topo.json"
check "reload with a relative topology_file: logread names it (mesh-monitor check)" \
  wait_for 10 logged "mesh-monitor.main.topology_file: 'topo.json' is not an absolute path"
check "... still running (pid $pid)" same_pid "$pid"

lsh "/etc/init.d/mesh-monitor stop" >/dev/null 2>&1
check "stop -> no instance, no process" wait_for 5 gone
mark
lsh "/etc/init.d/mesh-monitor start" >/dev/null 2>&1
sleep 0.5
check "start with the bad topology_file: refused, nothing running" gone
check "... logread names it and says 'not starting'" \
  eval 'logged "mesh-monitor.main.topology_file" && logged "not starting"'
uci_commit "uci set mesh-monitor.main.topology_file=/tmp/mesh-topology.dot"
check "config fixed + reload_config -> running again (interval 60)" wait_for 10 status_is '@.interval' 60
check "topology file written as DOT" wait_for 5 eval 'head -n 1 "$R/tmp/mesh-topology.dot" | grep -q "^digraph mesh {"'

pid=$(inst pid)
lexec kill -9 "$pid"
check "kill -9 $pid -> procd respawns it (new pid)" wait_for 10 new_pid "$pid"
check "... and the respawned daemon answers status" wait_for 5 status_is '@.interval' 60

uci_commit "uci set mesh-monitor.main.enabled=0"
check "enabled=0 + reload_config -> stopped" wait_for 10 gone
uci_commit "uci set mesh-monitor.main.enabled=1"
check "enabled=1 + reload_config -> running" wait_for 10 running

lsh "opkg remove mesh-monitor" >/dev/null 2>&1
check "opkg remove (prerm) -> stopped, no rc.d link, no binary" \
  eval 'wait_for 5 gone && ! ls "$R"/etc/rc.d/*mesh-monitor >/dev/null 2>&1 && [ ! -e "$R/usr/sbin/mesh-monitor" ]'

finish
