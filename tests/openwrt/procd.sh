#!/bin/bash
# procd.sh - each package's init script driven by the real procd, ubus, uci and logd of the
# OpenWrt lab: the x86_64 .ipk installed by the real opkg into a running lab (its postinst
# enables and starts the service, as on a router), then enable/start as a procd instance,
# respawn after kill -9, reload_config after `uci commit` (seen in the daemon's status), a bad
# option refused with the option named in logread, a running daemon kept through a reload
# with a bad config, stop, and opkg remove (prerm stops it).
#
#   tests/openwrt/procd.sh        (as root; DIST, V6ONLY_LAB and LAB_SH as in lib.sh)
#
# One lab with its own network namespace (--net: dns64 binds port 53, nat64 makes its TUN
# device and routes) and the host's /dev/net/tun bound in.
set -u
. "$(dirname "$0")/lib.sh"
lab_ready_or_finish
setup_or_finish iproute2

daemons_ready_or_finish

# --- the init scripts' datatypes as ubox's validate_data reads them (validate.c: 'device' is
# a device file, 'network' a UCI name or host ...): per option, values that must pass and
# values that must fail, the type taken from the init script itself
dtype() { sed -n "s/.*'$2:\([^:']*\)[:'].*/\1/p" "$REPO/feed/$1/files/$1.init" | head -n 1; }
# types_ok TYPE GOOD BAD: comma-separated values; prints the ones validate_data gets wrong
types_ok() {
  local v wrong="" IFS=,
  for v in $2; do "$HOSTBIN/validate_data" "$1" "$v" >/dev/null 2>&1 || wrong+=" '$v' refused"; done
  for v in $3; do "$HOSTBIN/validate_data" "$1" "$v" >/dev/null 2>&1 && wrong+=" '$v' accepted"; done
  [ -z "$wrong" ] || { echo "$1:$wrong"; return 1; }
}
while read -r pkg opt good bad; do
  t=$(dtype "$pkg" "$opt")
  if [ -z "$t" ]; then fail "validate_data: $pkg $opt" "no such option in $pkg.init"; continue; fi
  check "validate_data: $pkg $opt as $t" types_ok "$t" "$good" "$bad"
done <<'TYPES'
nat64 tun_device nat64,n64-lab.0,wan_6,123456789012345 /dev/null,lo:1,1234567890123456,a/b,.,..
nat64 prefix 64:ff9b::/96,2001:db8:64::/96 64:ff9b::/129,192.0.2.0/24,64:ff9b::x
nat64 mtu 1280,1500,65535 1279,65536,1500b
nat64 max_sessions 1,65536,4000000 0,4000001,many
nat64 proto tcp,udp,icmp sctp,TCP
nat64 ipv6 2001:db8::10 192.0.2.1,2001:db8::/64
nat64 ipv4 192.168.255.1 192.168.255.300,2001:db8::1
nat64 port4 0,8080,65535 65536,http
nat64 offload 0,1 2,maybe
nat64 workers 0,1,16 17,-1,many
dns64 prefix 64:ff9b::/96,2001:db8:64::/64 64:ff9b::/129,10.0.0.0/8
dns64 allow_non_global 0,1 2,maybe
dns64 listen 192.168.1.1,fd00::1 lan,192.168.1.1:53
dns64 port 53,5353 65536,dns
dns64 exclude ::ffff:0:0/96 10.0.0.0/8
dns64 cache_size 0,4096,1048576 -1,1048577
dns64 timeout 200,3500,60000 199,60001
option108-dhcpd dhcpv4 server,disabled on,yes
option108-dhcpd start 100,1 abc,-1
option108-dhcpd limit 150 x
option108-dhcpd ipv6_only_preferred 0,1800 -5,30m
option108-dhcpd ip 10.0.0.7 10.0.0.256,fd00::7
option108-dhcpd mac 00:11:22:33:44:55 00:11:22:33:44,00:11:22:33:44:gg
option108-dhcpd log_leases 0,1 2
TYPES

lab_start --net --bind /dev/net/tun:/dev/net/tun || finish
for p in fw-helper dns64 nat64 option108-dhcpd; do cp "$(ipk "$p")" "$L/lab/share/"; done
# nat64 depends on kmod-tun: the lab's kernel is the host's, whose TUN is bound in above.
R=$(lroot)
printf 'Package: kmod-tun\nVersion: 6.6.110-1\nStatus: install user installed\nArchitecture: %s\n\n' \
  "$ARCH" >>"$R/usr/lib/opkg/status"
: >"$R/usr/lib/opkg/info/kmod-tun.list"
# reload_config signals the configs that changed since its last run: a router's boot leaves
# a snapshot behind; a config installed later is compared from the run after its install on.
lexec reload_config
# opkg_install PKG: as a user would, then the snapshot that includes the new config
opkg_install() { lsh "opkg install /lab/share/$1_*_$ARCH.ipk" 2>&1; lexec reload_config; }

# --- helpers (ubus answers read with the lab's jsonfilter, run on the host)
# has TEXT PATTERN: TEXT contains PATTERN (else TEXT is shown)
has() { grep -q -- "$2" <<<"$1" || { echo "$1"; return 1; }; }
svc_json() { lexec ubus call service list "{\"name\":\"$1\"}"; }
# inst PKG FIELD: FIELD of the service's instance(s)
inst() { svc_json "$1" | "$JF" -e "@['$1'].instances.*.$2"; }
running() { [ "$(inst "$1" running)" = true ]; }
cmdline() { svc_json "$1" | "$JF" -e "@['$1'].instances.*.command[*]" | paste -sd' '; }
no_instance() { [ -z "$(svc_json "$1" | "$JF" -e "@['$1'].instances.*")" ]; }
no_process() { ! lexec pidof "$1" >/dev/null; }
gone() { no_instance "$1" && no_process "$1"; }
# status_is PKG JSONPATH VALUE: the daemon's own `status` JSON
status_is() { [ "$(lexec "$1" status 2>/dev/null | "$JF" -e "$2")" = "$3" ]; }
new_pid() { local p; p=$(inst "$1" pid); [ -n "$p" ] && [ "$p" != "$2" ] && running "$1"; }
# logread after the marker MARK-<n> (logged by mark): what this step logged
MARKS=0
mark() { MARKS=$((MARKS + 1)); lexec logger -t procd-test "MARK-$MARKS"; }
since_mark() { lexec logread | sed -n "/procd-test: MARK-$MARKS\$/,\$p"; }
logged() { since_mark | grep -q -- "$1"; }
# uci_commit PKG 'uci commands': change the config (PKG's or another, as dhcp for
# option108-dhcpd) and tell procd, as LuCI's apply does
uci_commit() { lsh "{ $2; } >/dev/null && uci commit && reload_config"; }
start_running() { lsh "/etc/init.d/$1 start" && wait_for 5 running "$1"; }
stop_gone() { lsh "/etc/init.d/$1 stop" && wait_for 5 gone "$1"; }
no_links() { ! ls "$R"/etc/rc.d/*"$1" >/dev/null 2>&1; }
no_link() { ! lnet ip link show "$1" >/dev/null 2>&1; }
removed() { wait_for 5 gone "$1" && no_links "$1" && [ ! -e "$R/usr/sbin/$1" ]; }

# cycle PKG PATH OLD NEW 'uci to NEW' BADOPT 'uci to a bad value' 'uci back to NEW':
# everything from `enable` to `opkg remove`, with PATH in `PKG status` showing the reload.
cycle() {
  local pkg=$1 path=$2 old=$3 new=$4 change=$5 badopt=$6 bad=$7 good=$8 pid pid2
  check "$pkg: enable (rc.d links)" lsh "/etc/init.d/$pkg enable && ls /etc/rc.d/S*$pkg && /etc/init.d/$pkg enabled"
  check "$pkg: start -> a running procd instance" start_running "$pkg"
  local cl
  cl=$(cmdline "$pkg")
  if [ "$cl" = "/usr/sbin/$pkg run" ]; then pass "$pkg: ubus service list: command '/usr/sbin/$pkg run'"; else fail "$pkg: command line" "'$cl'"; fi
  check "$pkg: status answers ($path = $old)" wait_for 5 status_is "$pkg" "$path" "$old"

  pid=$(inst "$pkg" pid)
  lexec kill -9 "$pid"
  check "$pkg: kill -9 $pid -> procd respawns it (new pid)" wait_for 10 new_pid "$pkg" "$pid"
  check "$pkg: respawned daemon answers status" wait_for 5 status_is "$pkg" "$path" "$old"

  pid=$(inst "$pkg" pid)
  uci_commit "$pkg" "$change"
  check "$pkg: uci commit + reload_config -> reloaded ($path = $new)" wait_for 10 status_is "$pkg" "$path" "$new"
  pid2=$(inst "$pkg" pid)
  if [ "$pid2" = "$pid" ]; then pass "$pkg: reloaded in place (same pid $pid, SIGHUP)"; else fail "$pkg: reload kept the pid" "$pid -> $pid2"; fi

  lsh "/etc/init.d/$pkg restart" >/dev/null 2>&1
  check "$pkg: restart -> running again, new pid" wait_for 10 new_pid "$pkg" "$pid"
  check "$pkg: ... with the reloaded config ($path = $new)" wait_for 5 status_is "$pkg" "$path" "$new"
  pid=$(inst "$pkg" pid)

  mark
  uci_commit "$pkg" "$bad"
  check "$pkg: reload with a bad $badopt: logread names it" wait_for 10 logged "$badopt"
  check "$pkg: ... and says the running daemon is kept" logged "keeping the running daemon"
  sleep 1.5
  pid2=$(inst "$pkg" pid)
  if [ "$pid2" = "$pid" ] && running "$pkg" && status_is "$pkg" "$path" "$new"; then
    pass "$pkg: still running through the bad reload (pid $pid, config as before)"
  else
    fail "$pkg: still running through the bad reload" "pid $pid -> '$pid2'"
  fi

  check "$pkg: stop -> no instance, no process" stop_gone "$pkg"
  mark
  lsh "/etc/init.d/$pkg start" >/dev/null 2>&1
  sleep 0.5
  check "$pkg: start with a bad $badopt: refused, nothing running" gone "$pkg"
  check "$pkg: ... logread names $badopt" logged "$badopt"
  check "$pkg: ... and says 'not starting'" logged "not starting"

  uci_commit "$pkg" "$good"
  check "$pkg: config fixed + reload_config -> running again" wait_for 10 status_is "$pkg" "$path" "$new"
}

# --- fw-helper first (nat64 depends on it; the others use it when present). A oneshot, its
# rules are the fw4 test's: postinst enables it and leaves no instance. No firewall runs here.
out=$(opkg_install fw-helper)
check "fw-helper: opkg install" has "$out" "Configuring fw-helper"
check "fw-helper: postinst enabled it (/etc/rc.d/S20fw-helper)" test -L "$R/etc/rc.d/S20fw-helper"
check "fw-helper: oneshot: no procd instance left" no_instance fw-helper

# --- dns64: postinst enables and starts it (port 53 is free in this lab: no dnsmasq)
out=$(opkg_install dns64)
check "dns64: opkg install" has "$out" "Configuring dns64"
check "dns64: postinst enabled it (/etc/rc.d/S60dns64)" test -L "$R/etc/rc.d/S60dns64"
check "dns64: postinst started it under procd" wait_for 5 running dns64
lsh "/etc/init.d/dns64 stop; /etc/init.d/dns64 disable"
check "dns64: stop + disable: no instance, no links" eval 'gone dns64 && no_links dns64'
cycle dns64 @.prefix 64:ff9b::/96 2001:db8:64::/96 \
  "uci set dns64.main.prefix=2001:db8:64::/96" \
  dns64.main.port "uci set dns64.main.port=99999" "uci set dns64.main.port=53"
# the daemon's own check (what validate_data cannot see) is logged the same way
mark
uci_commit dns64 "uci add_list dns64.main.upstream=192.0.2.1#99999"
check "dns64: reload with an upstream only the daemon rejects: logread names dns64.main.upstream" \
  wait_for 10 logged "dns64.main.upstream"
check "dns64: ... and the daemon keeps running" status_is dns64 @.prefix 2001:db8:64::/96
uci_commit dns64 "uci del_list dns64.main.upstream=192.0.2.1#99999"
# enabled=0 + reload stops it; enabled=1 + reload starts it again
uci_commit dns64 "uci set dns64.main.enabled=0"
check "dns64: enabled=0 + reload_config -> stopped" wait_for 10 gone dns64
uci_commit dns64 "uci set dns64.main.enabled=1"
check "dns64: enabled=1 + reload_config -> running" wait_for 10 running dns64
lsh "opkg remove dns64" >/dev/null 2>&1
check "dns64: opkg remove (prerm) -> stopped, no links, binary gone" removed dns64

# --- nat64: its TUN device 'nat64' (validated as an interface name, not a device file)
out=$(opkg_install nat64)
check "nat64: opkg install" has "$out" "Configuring nat64"
check "nat64: postinst enabled it (/etc/rc.d/S60nat64)" test -L "$R/etc/rc.d/S60nat64"
check "nat64: postinst started it under procd (tun_device 'nat64' accepted)" wait_for 5 running nat64
check "nat64: its TUN device is up in the lab" lnet ip link show nat64 up
lsh "/etc/init.d/nat64 stop; /etc/init.d/nat64 disable"
check "nat64: stop removes the TUN device" wait_for 5 no_link nat64
cycle nat64 @.sessions.max 65536 1000 \
  "uci set nat64.main.max_sessions=1000" \
  nat64.main.tun_device "uci set nat64.main.tun_device=bad/name" "uci set nat64.main.tun_device=nat64"
mark
uci_commit nat64 "uci add nat64 static && uci set nat64.@static[-1].proto=tcp && uci set nat64.@static[-1].ipv4=192.168.255.300"
check "nat64: bad static section: logread names its option (.ipv4)" wait_for 10 logged "nat64.cfg[0-9a-f]*\.ipv4: '192.168.255.300'"
check "nat64: ... and the daemon keeps running" status_is nat64 @.sessions.max 1000
lsh "uci delete nat64.@static[-1]; uci commit nat64"
lsh "opkg remove nat64" >/dev/null 2>&1
check "nat64: opkg remove (prerm) -> stopped, no links, TUN device gone" eval 'removed nat64 && no_link nat64'

# --- option108-dhcpd: ships disabled (one DHCPv4 server per interface): postinst enables the
# init script, the daemon starts once the user sets enabled=1. The pool is on a veth pair
# made here; no netifd in the lab, so it names its kernel device.
lnet ip link add o108s type veth peer name o108c
lnet ip addr add 10.108.0.1/24 dev o108s
lnet ip link set o108s up
lnet ip link set o108c up
printf "config dhcp 'lan'\n\toption device 'o108s'\n\toption start '100'\n\toption limit '50'\n\toption leasetime '2m'\n" \
  >"$R/etc/config/dhcp"
lexec reload_config
out=$(opkg_install option108-dhcpd)
check "option108-dhcpd: opkg install" has "$out" "Configuring option108-dhcpd"
check "option108-dhcpd: postinst enabled it (/etc/rc.d/S60option108-dhcpd)" test -L "$R/etc/rc.d/S60option108-dhcpd"
sleep 0.5
check "option108-dhcpd: shipped disabled (enabled '0'): no instance after install" gone option108-dhcpd
uci_commit option108-dhcpd "uci set option108-dhcpd.main.enabled=1"
check "option108-dhcpd: enabled=1 + reload_config -> procd starts it" wait_for 10 running option108-dhcpd
lsh "/etc/init.d/option108-dhcpd stop; /etc/init.d/option108-dhcpd disable"
cycle option108-dhcpd @.pools[0].size 50 60 \
  "uci set dhcp.lan.limit=60" \
  dhcp.lan.start "uci set dhcp.lan.start=abc" "uci set dhcp.lan.start=100"
# its own config's options are named the same way
mark
uci_commit option108-dhcpd "uci set option108-dhcpd.main.log_leases=sometimes"
check "option108-dhcpd: bad option108-dhcpd.main.log_leases: logread names it" \
  wait_for 10 logged "option108-dhcpd.main.log_leases: 'sometimes' is not a valid bool"
check "option108-dhcpd: ... and the daemon keeps running" status_is option108-dhcpd @.pools[0].size 60
lsh "opkg remove option108-dhcpd" >/dev/null 2>&1
check "option108-dhcpd: opkg remove (prerm) -> stopped, no links" removed option108-dhcpd


# --- least privilege: procd starts each daemon as root; it opens what needs root, then runs as
# its package's user (USERID, made by the postinst) with exactly the capabilities it still
# needs, no groups, nothing inheritable and no_new_privs, as /proc/<pid>/status shows. Then a
# reload that needs those capabilities: dns64 binds another port below 1024, nat64 routes a new
# pool4 address and sets a new MTU, option108-dhcpd binds port 67 on a new pool's device; the
# same identity after it.
# proc_line PKG FIELD: the values of FIELD in the daemon's /proc/<pid>/status (tabs as spaces)
proc_line() { lexec cat "/proc/$(inst "$1" pid)/status" | awk -v f="$2:" '$1 == f {$1 = ""; sub(/^ /, ""); print}'; }
# least_privilege PKG USER CAPEFF CAPNAMES: one result line with what the kernel says
least_privilege() {
  local pkg=$1 user=$2 caps=$3 names=$4 uid gid got want
  uid=$(awk -F: -v u="$user" '$1 == u {print $3}' "$R/etc/passwd")
  gid=$(awk -F: -v u="$user" '$1 == u {print $4}' "$R/etc/passwd")
  if [ -z "$uid" ] || [ "$uid" = 0 ]; then fail "$pkg: user $user in /etc/passwd (postinst)" "'$uid'"; return; fi
  got="uid $(proc_line "$pkg" Uid), gid $(proc_line "$pkg" Gid), groups '$(proc_line "$pkg" Groups)', CapEff $(proc_line "$pkg" CapEff), CapPrm $(proc_line "$pkg" CapPrm), CapInh $(proc_line "$pkg" CapInh), NoNewPrivs $(proc_line "$pkg" NoNewPrivs)"
  want="uid $uid $uid $uid $uid, gid $gid $gid $gid $gid, groups '', CapEff $caps, CapPrm $caps, CapInh 0000000000000000, NoNewPrivs 1"
  if [ "$got" = "$want" ]; then
    pass "$pkg: pid $(inst "$pkg" pid) runs as $user: $got ($names)"
  else
    fail "$pkg: runs as $user with $names only" "got: $got; want: $want"
  fi
}
udp_listening() { lnet ss -Hlnu "sport = :$1" | grep -q .; }
has_route() { lnet ip route show dev nat64 | grep -q "^$1"; }
has_mtu() { lnet ip link show nat64 | grep -q "mtu $1 "; }
same_pid() { [ -n "$2" ] && [ "$(inst "$1" pid)" = "$2" ]; }
journal_owner() { lexec ls -ln /tmp/option108-dhcpd.journal | awk '{print $3}'; }

out=$(opkg_install dns64)
check "dns64: reinstalled (user dns64 kept or made by the postinst)" has "$out" "Configuring dns64"
check "dns64: running under procd" wait_for 5 running dns64
least_privilege dns64 dns64 0000000000000400 CAP_NET_BIND_SERVICE
pid=$(inst dns64 pid)
uci_commit dns64 "uci set dns64.main.port=54 && uci set dns64.main.prefix=2001:db8:6::/96"
check "dns64: reload as user dns64: binds port 54 (CAP_NET_BIND_SERVICE), prefix 2001:db8:6::/96" \
  eval 'wait_for 10 status_is dns64 @.prefix 2001:db8:6::/96 && wait_for 5 udp_listening 54'
check "dns64: ... in place (pid $pid)" same_pid dns64 "$pid"
least_privilege dns64 dns64 0000000000000400 CAP_NET_BIND_SERVICE
lsh "opkg remove dns64" >/dev/null 2>&1

out=$(opkg_install nat64)
check "nat64: reinstalled" has "$out" "Configuring nat64"
check "nat64: running under procd" wait_for 5 running nat64
least_privilege nat64 nat64 0000000000001000 CAP_NET_ADMIN
pid=$(inst nat64 pid)
uci_commit nat64 "uci add_list nat64.main.pool4=192.168.254.7 && uci set nat64.main.mtu=1400"
check "nat64: reload as user nat64: route to 192.168.254.7 and MTU 1400 (CAP_NET_ADMIN)" \
  eval 'wait_for 10 has_route 192.168.254.7 && wait_for 5 has_mtu 1400'
check "nat64: ... in place (pid $pid)" same_pid nat64 "$pid"
least_privilege nat64 nat64 0000000000001000 CAP_NET_ADMIN
# Another number of workers is another set of TUN queues, which no SIGHUP can make: procd
# restarts the instance; the next reload is in place again.
mark
uci_commit nat64 "uci set nat64.main.workers=1"
check "nat64: workers 1 + reload_config -> restarted (new pid), 1 worker, MTU still 1400" \
  eval 'wait_for 10 new_pid nat64 "$pid" && wait_for 5 status_is nat64 @.workers 1 && wait_for 5 has_mtu 1400'
check "nat64: ... logread says why" logged "tun_device, offload or workers changed: restarting"
least_privilege nat64 nat64 0000000000001000 CAP_NET_ADMIN
pid=$(inst nat64 pid)
uci_commit nat64 "uci set nat64.main.mtu=1380"
check "nat64: then mtu 1380 + reload_config -> in place (pid $pid)" \
  eval 'wait_for 10 has_mtu 1380 && same_pid nat64 "$pid" && status_is nat64 @.workers 1'
lsh "opkg remove nat64" >/dev/null 2>&1

lnet ip link add o108t type veth peer name o108u
lnet ip addr add 10.109.0.1/24 dev o108t
lnet ip link set o108t up
lnet ip link set o108u up
chmod 600 "$R/etc/config/dhcp" # as dnsmasq's package installs it on a router
out=$(opkg_install option108-dhcpd)
check "option108-dhcpd: reinstalled" has "$out" "Configuring option108-dhcpd"
# (the config kept from above still has the bad log_leases)
uci_commit option108-dhcpd "uci set option108-dhcpd.main.enabled=1 && uci set option108-dhcpd.main.log_leases=1"
check "option108-dhcpd: running under procd" wait_for 10 running option108-dhcpd
least_privilege option108-dhcpd option108 0000000000001400 "CAP_NET_BIND_SERVICE, CAP_NET_ADMIN"
check "option108-dhcpd: its lease journal is the user's (uid 8925)" \
  eval '[ "$(journal_owner)" = 8925 ]'
pid=$(inst option108-dhcpd pid)
uci_commit dhcp "uci set dhcp.guest=dhcp && uci set dhcp.guest.device=o108t && uci set dhcp.guest.start=10 && uci set dhcp.guest.limit=20"
check "option108-dhcpd: reload as user option108: a second pool on o108t, port 67 bound there" \
  wait_for 10 status_is option108-dhcpd @.pools[1].size 20
check "option108-dhcpd: ... in place (pid $pid)" same_pid option108-dhcpd "$pid"
least_privilege option108-dhcpd option108 0000000000001400 "CAP_NET_BIND_SERVICE, CAP_NET_ADMIN"
lsh "opkg remove option108-dhcpd" >/dev/null 2>&1

finish
