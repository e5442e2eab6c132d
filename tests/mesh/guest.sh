# guest.sh - the mesh lab inside the VM (busybox sh, run by /init; see tests/mesh/lab.sh).
#
# Three mac80211_hwsim radios, each in its own network namespace (node 0, 1, 2; mesh0..mesh2,
# fd77::1..3), join mesh "labmesh" on 2412 MHz, then the mesh goes through these phases; after
# each one, `hook PHASE` runs if /lab/hook.sh defined it:
#   created    mesh interfaces up, not yet joined
#   full       every radio hears every other: two ESTAB peers each, one-hop paths
#   line       node 0 and 2 out of range (hwsim groups 1, 3, 2): node 0 reaches 2 via 1
#   mpp        a LAN host (namespace 3, fd77::13) bridged behind mesh2: node 0 has it in mpp
#   silent     node 1 hears nobody and says nothing (group 0): node 0's paths go inactive
#   expired    node 0 dropped its silent peers (mesh_plink_timeout 8 s; housekeeping runs
#              every 60 s, so this waits up to ~70 s; EXPIRE=0 on the host skips the phase)
#   recovered  node 1 back in range: peer link and the 2-hop path to node 2 again
#   gate       node 1 says it is connected to a mesh gate (mesh_connected_to_gate 1)
#   nogate     ... and then that it is not
#   left       node 1 `mesh leave`s (a plink close): node 0 has it as LISTEN, no paths
#   end        before power-off
# A hook may use: N NODE CMD... (CMD in node's namespace; node 3 is the LAN host), MAC0..MAC2,
# LANMAC (from mpp on), up (guest uptime, s), PHASE. Lab checks (the iw side) print
# "LAB ok|FAIL PHASE: what"; the last line is "LAB-RESULT PASS|FAIL".

export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug

up() { cut -d' ' -f1 /proc/uptime; }
echo "LAB-BOOT up=$(up) kernel=$(uname -r) machine=$(uname -m)"
BAD=0
ok() { echo "LAB ok $PHASE: $*"; }
# a failed lab check shows node 0's view
bad() {
  echo "LAB FAIL $PHASE: $*"
  BAD=1
  N 0 iw dev mesh0 station dump | grep -E '^Station|mesh plink'
  N 0 iw dev mesh0 mpath dump
}
# lab_check WHAT CMD...: a lab check on the iw side
lab_check() {
  what=$1
  shift
  if "$@"; then ok "$what"; else bad "$what"; fi
}
# phase NAME: announce it, then the hook
phase() {
  PHASE=$1
  echo "@PHASE $PHASE up=$(up)"
  if command -v hook >/dev/null 2>&1; then
    hook "$PHASE"
    echo "@HOOK-DONE $PHASE rc=$? up=$(up)"
  fi
}
PHASE=boot
# the hook defines hook(); it may use everything above and N, MAC0..2 (defined below)
if [ -f /lab/hook.sh ]; then . /lab/hook.sh; fi

# ---- radios and namespaces ---------------------------------------------------------------
modprobe mac80211_hwsim radios=3 || bad "modprobe mac80211_hwsim"
# A namespace is held by a sleeping process; N enters it by that pid.
for i in 0 1 2 3; do
  unshare -n sleep 1000000 &
  eval "P$i=$!"
done
for i in 0 1 2 3; do
  eval "p=\$P$i"
  # unshare has made the namespace once the holder's differs from ours
  while [ "$(readlink /proc/"$p"/ns/net)" = "$(readlink /proc/self/ns/net)" ]; do usleep 20000; done
done
N() {
  eval "_p=\$P$1"
  shift
  nsenter -t "$_p" -n "$@"
}
for i in 0 1 2; do
  eval "MAC$i=$(cat /sys/class/ieee80211/phy$i/macaddress)"
  eval "p=\$P$i"
  iw phy "phy$i" set netns "$p" || bad "phy$i into its namespace"
done
echo "LAB-MACS $MAC0 $MAC1 $MAC2"
G=/sys/kernel/debug/ieee80211
# hwsim delivers a frame only between radios whose group bits intersect
group() { echo "$2" >"$G/phy$1/hwsim/group"; }

for i in 0 1 2; do
  # No DAD: the addresses are usable at once (TCG is slow enough as it is).
  N $i sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
  N $i ip link set lo up
  # Inside a namespace iw names the phy by index: sysfs, mounted in the first namespace, no
  # longer lists it by name.
  N $i iw dev "wlan$i" del
  N $i iw "phy#$i" interface add "mesh$i" type mp || bad "mesh$i: interface add type mp"
  N $i ip link set "mesh$i" up
done
N 3 sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
N 3 ip link set lo up
[ -x /usr/bin/mesh-monitor ] && echo "LAB-BINARY $(wc -c </usr/bin/mesh-monitor) bytes"
phase created

# estab NODE: how many ESTAB peers NODE has
estab() { N "$1" iw dev "mesh$1" station dump | grep -c 'mesh plink:.*ESTAB'; }
# active_bit NODE DEST NEXTHOP: NODE has an mpath to DEST through NEXTHOP, flag ACTIVE set
# (iw prints the flags in hex; sh arithmetic reads 0x..)
active_bit() { v=$(N "$1" iw dev "mesh$1" mpath dump | awk -v d="$2" -v n="$3" '$1 == d && $2 == n {print $10}'); [ -n "$v" ] && [ $((v & 1)) = 1 ]; }
has_path() { N "$1" iw dev "mesh$1" mpath dump | awk -v d="$2" -v n="$3" '$1 == d && $2 == n {f = 1} END {exit !f}'; }
# ping6s NODE ADDR COUNT: every one of COUNT pings answered
ping6s() { N "$1" ping6 -c "$3" -W 2 "$2" >/tmp/ping.out 2>&1 || { tail -n 2 /tmp/ping.out; return 1; }; }

# ---- full mesh ---------------------------------------------------------------------------
for i in 0 1 2; do
  N $i iw dev "mesh$i" mesh join labmesh freq 2412 HT20 || bad "mesh$i: mesh join"
  N $i ip addr add "fd77::$((i + 1))/64" dev "mesh$i"
done
PHASE=full
for _ in $(seq 1 120); do
  [ "$(estab 0)" = 2 ] && [ "$(estab 1)" = 2 ] && [ "$(estab 2)" = 2 ] && break
  usleep 250000
done
echo "LAB-ESTAB up=$(up) ESTAB peers: node0 $(estab 0), node1 $(estab 1), node2 $(estab 2)"
lab_check "every node has 2 ESTAB peers" [ "$(estab 0)$(estab 1)$(estab 2)" = 222 ]
lab_check "node 0 pings node 1" ping6s 0 fd77::2 2
lab_check "node 0 pings node 2" ping6s 0 fd77::3 2
lab_check "node 1 pings node 2" ping6s 1 fd77::3 2
# While rate control settles, a link's metric drops (4819 to some hundreds) and HWMP may
# briefly prefer two fresh hops over one stale one; the line phase needs direct paths to start
# from, so wait for them.
for _ in $(seq 1 20); do
  active_bit 0 "$MAC1" "$MAC1" && active_bit 0 "$MAC2" "$MAC2" && break
  N 0 ping6 -c 1 -W 1 fd77::2 >/dev/null 2>&1
  N 0 ping6 -c 1 -W 1 fd77::3 >/dev/null 2>&1
done
lab_check "node 0: 1-hop path to node 1" active_bit 0 "$MAC1" "$MAC1"
lab_check "node 0: 1-hop path to node 2" active_bit 0 "$MAC2" "$MAC2"
phase full

# ---- line 0-1-2 ---------------------------------------------------------------------------
PHASE=line
group 0 1
group 1 3
group 2 2
# Until node 0's path to node 2 goes through node 1: the old path fails, HWMP finds the new.
# Node 2 learns its way back from the path request; it keeps a stale direct path until that
# fails, so it pings too.
for _ in $(seq 1 60); do
  N 0 ping6 -c 1 -W 1 fd77::3 >/dev/null 2>&1
  active_bit 0 "$MAC2" "$MAC1" && has_path 2 "$MAC0" "$MAC1" && break
  N 2 ping6 -c 1 -W 1 fd77::1 >/dev/null 2>&1
done
lab_check "node 0: path to node 2 via node 1" active_bit 0 "$MAC2" "$MAC1"
lab_check "node 2: path to node 0 via node 1" has_path 2 "$MAC0" "$MAC1"
lab_check "node 0 pings node 2 over 2 hops" ping6s 0 fd77::3 3
phase line

# ---- a proxied LAN host behind node 2 ------------------------------------------------------
PHASE=mpp
N 2 ip link add lan2 type veth
# busybox ip names the peer itself (veth0): whatever is paired with lan2
peer=$(N 2 ip -o link | sed -n 's/^[0-9]*: \([^@:]*\)@lan2:.*/\1/p')
N 2 ip link set "$peer" netns "$P3"
N 2 ip link add br0 type bridge
N 2 ip addr del fd77::3/64 dev mesh2
N 2 ip link set mesh2 master br0 || bad "mesh2 into br0"
N 2 ip link set lan2 master br0
N 2 ip link set lan2 up
N 2 ip link set br0 up
N 2 ip addr add fd77::3/64 dev br0
N 3 ip link set "$peer" name eth0
N 3 ip link set eth0 up
N 3 ip addr add fd77::13/64 dev eth0
# sysfs shows the first namespace: ask ip for the LAN host's MAC
LANMAC=$(N 3 ip -o link show eth0 | sed -n 's/.*link\/ether \([0-9a-f:]*\) .*/\1/p')
echo "LAB-LANMAC $LANMAC"
lab_check "node 0 pings the LAN host behind node 2" ping6s 0 fd77::13 3
lab_check "node 0: mpp entry for the LAN host via node 2" \
  sh -c "nsenter -t $P0 -n iw dev mesh0 mpp dump | grep -q '^$LANMAC $MAC2 '"
phase mpp

# ---- node 1 silent -------------------------------------------------------------------------
PHASE=silent
# How long node 0 keeps an inactive ESTAB peer (default 1800 s): short enough to see it go.
N 0 iw dev mesh0 set mesh_param mesh_plink_timeout 8
group 1 0
if N 0 ping6 -c 3 -W 1 fd77::3 >/dev/null 2>&1; then bad "node 2 answered while node 1 is silent"; else ok "node 2 unreachable while node 1 is silent"; fi
# the path stays ACTIVE until it expires (mesh_hwmp_active_path_timeout) or a frame to it fails
for _ in $(seq 1 20); do
  v=$(N 0 iw dev mesh0 mpath dump | awk -v d="$MAC2" '$1 == d {print $10}')
  [ -z "$v" ] || [ $((v & 1)) = 0 ] && break
  N 0 ping6 -c 1 -W 1 fd77::3 >/dev/null 2>&1
done
lab_check "node 0: path to node 2 inactive (flags ${v:-none})" [ -z "$v" -o $((${v:-0} & 1)) = 0 ]
phase silent

if grep -q labexpire=0 /proc/cmdline; then
  echo "LAB-SKIP expired (EXPIRE=0)"
else
  PHASE=expired
  # mesh housekeeping (every 60 s) drops peers inactive longer than mesh_plink_timeout
  for _ in $(seq 1 90); do
    N 0 iw dev mesh0 station get "$MAC1" >/dev/null 2>&1 || break
    sleep 1
  done
  echo "LAB-EXPIRED up=$(up)"
  if N 0 iw dev mesh0 station get "$MAC1" >/dev/null 2>&1; then bad "node 0 still has node 1 as a station"; else ok "node 0 dropped silent node 1"; fi
  lab_check "node 0: no station left" [ "$(N 0 iw dev mesh0 station dump | grep -c '^Station')" = 0 ]
  lab_check "node 0: no paths left" [ "$(N 0 iw dev mesh0 mpath dump | grep -c '^[0-9a-f][0-9a-f]:')" = 0 ]
  phase expired
fi

# ---- node 1 back ---------------------------------------------------------------------------
PHASE=recovered
group 1 3
for _ in $(seq 1 60); do
  N 0 ping6 -c 1 -W 1 fd77::3 >/dev/null 2>&1 && active_bit 0 "$MAC2" "$MAC1" && break
done
lab_check "node 0: node 1 ESTAB again" sh -c "nsenter -t $P0 -n iw dev mesh0 station get $MAC1 | grep -q 'mesh plink:.*ESTAB'"
lab_check "node 0: path to node 2 via node 1 again" active_bit 0 "$MAC2" "$MAC1"
lab_check "node 0 pings the LAN host again" ping6s 0 fd77::13 2
phase recovered

# ---- node 1 says it is connected to a mesh gate, then no more -------------------------------
# mesh_connected_to_gate sets the "connected to gate" bit of node 1's Mesh Formation Info; node
# 0 reads it from node 1's beacons (one a second).
gate_bit() { N 0 iw dev mesh0 station get "$MAC1" 2>/dev/null | grep -q "connected to gate:.*$1"; }
PHASE=gate
N 1 iw dev mesh1 set mesh_param mesh_connected_to_gate 1 || bad "mesh1: set mesh_connected_to_gate 1"
for _ in $(seq 1 40); do gate_bit yes && break; usleep 250000; done
lab_check "node 0: node 1 connected to a gate" gate_bit yes
phase gate
PHASE=nogate
N 1 iw dev mesh1 set mesh_param mesh_connected_to_gate 0 || bad "mesh1: set mesh_connected_to_gate 0"
for _ in $(seq 1 40); do gate_bit no && break; usleep 250000; done
lab_check "node 0: node 1 no longer connected to a gate" gate_bit no
phase nogate

# ---- node 1 leaves -------------------------------------------------------------------------
PHASE=left
N 0 iw dev mesh0 set mesh_param mesh_plink_timeout 1800
N 1 iw dev mesh1 mesh leave || bad "mesh1: mesh leave"
for _ in $(seq 1 20); do
  N 0 iw dev mesh0 station get "$MAC1" 2>/dev/null | grep -q 'mesh plink:.*ESTAB' || break
  usleep 250000
done
lab_check "node 0: node 1 no longer ESTAB" sh -c "! nsenter -t $P0 -n iw dev mesh0 station get $MAC1 2>/dev/null | grep -q 'mesh plink:.*ESTAB'"
if N 0 ping6 -c 2 -W 1 fd77::3 >/dev/null 2>&1; then bad "node 2 answered without node 1"; else ok "node 2 unreachable without node 1"; fi
lab_check "node 0: no active path to node 2" sh -c "! nsenter -t $P0 -n iw dev mesh0 mpath dump | grep -q '^$MAC2 $MAC1 '"
phase left

PHASE=end
phase end
echo "@DMESG"
dmesg | grep -iE 'hwsim|mesh|cfg80211|regulatory|warn|bug|oops' | tail -n 40
grep -E 'MemTotal|MemAvailable' /proc/meminfo
if [ "$BAD" = 0 ]; then echo "LAB-RESULT PASS up=$(up)"; else echo "LAB-RESULT FAIL up=$(up)"; fi
