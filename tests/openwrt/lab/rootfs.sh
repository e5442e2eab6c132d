# rootfs.sh - sourced by build.sh: assemble_rootfs DIR puts the built components where an
# OpenWrt 24.10 image has them, plus the host's shared libraries and nft, plus our glue
# (rootfs/). Uses build.sh's variables: HERE B S OW LAB.

# makefile_version DIR: "2025.07.23~49056d17-r1" from OpenWrt's package/DIR/Makefile
makefile_version() {
	local mk=$OW/$1/Makefile date ver rel
	date=$(sed -n 's/^PKG_SOURCE_DATE:=//p' "$mk")
	ver=$(sed -n 's/^PKG_SOURCE_VERSION:=//p' "$mk")
	rel=$(sed -n 's/^PKG_RELEASE:\{0,1\}=//p' "$mk")
	[ -n "$date" ] && [ -n "$ver" ] || { echo "no PKG_SOURCE_DATE/VERSION in $mk" >&2; return 1; }
	echo "${date//-/.}~${ver:0:8}-r${rel:-1}"
}

# base_packages: "NAME VERSION [PROVIDES...]" lines of base-packages.txt, versions resolved
base_packages() {
	local name ver provides
	while read -r name ver provides; do
		case $name in '' | '#'*) continue ;; esac
		case $ver in @*) ver=$(makefile_version "${ver#@}") ;; esac
		echo "$name $ver $provides"
	done <"$HERE/base-packages.txt"
}

# register_base_packages ROOT: opkg status + empty file lists; apk installed db + world
register_base_packages() {
	local R=$1 name ver provides
	mkdir -p "$R/usr/lib/opkg/info" "$R/lib/apk/db" "$R/etc/apk"
	: >"$R/usr/lib/opkg/status"
	: >"$R/lib/apk/db/installed"
	: >"$R/etc/apk/world"
	while read -r name ver provides; do
		{
			echo "Package: $name"
			echo "Version: $ver"
			[ -z "$provides" ] || echo "Provides: ${provides// /, }"
			echo "Status: install user installed"
			echo "Architecture: x86_64"
			echo "Installed-Time: 0"
			echo
		} >>"$R/usr/lib/opkg/status"
		: >"$R/usr/lib/opkg/info/$name.list"
		# apk's installed db (apk 3 still keeps the v2 text format): one stanza per package. C: is
		# the package's identity (normally a hash of its control data): here one of name-version.
		{
			echo "C:Q1$(printf '%s' "$name-$ver" | openssl sha1 -binary | base64)"
			echo "P:$name"
			echo "V:$ver"
			echo "A:x86_64"
			echo "S:0"
			echo "I:0"
			echo "T:OpenWrt base package (the lab's stand-in)"
			echo "U:"
			echo "L:"
			[ -z "$provides" ] || echo "p:$provides"
			echo
		} >>"$R/lib/apk/db/installed"
		echo "$name" >>"$R/etc/apk/world"
	done < <(base_packages)
	: >"$R/lib/apk/db/triggers"
	echo x86_64 >"$R/etc/apk/arch"
}

assemble_rootfs() {
	local R=$1 F=$OW/package/base-files/files
	mkdir -p "$R"
	(cd "$R" && mkdir -p bin sbin lib/functions lib/config usr/bin usr/sbin usr/lib/ucode \
		usr/share/libubox usr/share/v6only-lab etc/config etc/init.d etc/rc.d etc/uci-defaults \
		etc/opkg/keys etc/apk/keys etc/apk/repositories.d etc/apk/protected_paths.d \
		proc sys dev tmp root lab overlay rom mnt)
	ln -s tmp "$R/var" # as on OpenWrt: /var is the tmpfs

	# busybox first: real programs installed below replace applets of the same name
	cp -a "$B/busybox/_install/." "$R/"

	# base-files: rc.common, functions.sh (+ functions/*.sh), the /etc files an image has
	local f
	for f in rc.common profile shinit passwd group shadow shells hosts protocols services \
		openwrt_release openwrt_version; do
		cp "$F/etc/$f" "$R/etc/$f"
	done
	cp "$F/usr/lib/os-release" "$R/usr/lib/os-release"
	ln -s ../usr/lib/os-release "$R/etc/os-release"
	sed -i -e 's/%D/OpenWrt/g; s/%V/24.10.4/g; s/%v/24.10.4/g; s/%R/r0-v6only-lab/g; s/%C/r0-v6only-lab/g' \
		-e 's/%S/x86\/64/g; s/%A/x86_64/g; s/%M/v6only OpenWrt lab/g; s/%[a-zA-Z]//g' \
		"$R/usr/lib/os-release" "$R/etc/openwrt_release" "$R/etc/openwrt_version"
	# The image build fills in the PATH of login shells (TARGET_INIT_PATH)
	sed -i 's|%PATH%|/usr/sbin:/usr/bin:/sbin:/bin|' "$R/etc/profile"
	cp "$F/lib/functions.sh" "$R/lib/"
	cp -a "$F/lib/functions/." "$R/lib/functions/"
	cp "$OW/package/system/uci/files/lib/config/uci.sh" "$R/lib/config/"
	echo OpenWrt >"$R/etc/hostname"

	# procd: service manager, procd.sh, reload_config, service
	install -m755 "$S/usr/sbin/procd" "$R/sbin/procd"
	install -m644 "$OW/package/system/procd/files/procd.sh" "$R/lib/functions/procd.sh"
	install -m755 "$OW/package/system/procd/files/reload_config" "$OW/package/system/procd/files/service" "$R/sbin/"
	# procd preloads it for instances whose stdout/stderr go to the log
	install -m755 "$(find "$S/usr/lib" -name libsetlbf.so | head -n1)" "$R/lib/libsetlbf.so"

	# libraries of the components (libubox, libubus, libuci, libucode, libudebug, ...)
	cp -a "$S"/usr/lib/*.so* "$R/usr/lib/"
	cp -a "$S"/usr/lib/ucode/. "$R/usr/lib/ucode/"
	# ubus, jshn, uci, ubox (validate_data, logd, logread), jsonfilter, usign, ucode
	install -m755 "$S/usr/sbin/ubusd" "$S/usr/sbin/validate_data" "$S/usr/sbin/logd" "$S/usr/sbin/logread" "$R/sbin/"
	install -m755 "$S/usr/bin/ubus" "$R/bin/ubus"
	install -m755 "$S/usr/bin/jshn" "$R/usr/bin/jshn"
	cp "$S/usr/share/libubox/jshn.sh" "$R/usr/share/libubox/"
	install -m755 "$S/usr/bin/uci" "$R/sbin/uci"
	install -m755 "$OW/package/system/ubox/files/log.init" "$R/etc/init.d/log"
	install -m755 "$B/jsonpath/jsonpath" "$R/usr/bin/jsonfilter"
	install -m755 "$S/usr/bin/usign" "$R/usr/bin/usign"
	install -m755 "$S/usr/bin/ucode" "$R/usr/bin/ucode"
	ln -s ucode "$R/usr/bin/utpl"
	[ ! -d "$S/usr/share/ucode" ] || cp -a "$S/usr/share/ucode" "$R/usr/share/"

	# opkg as on 24.10 release images: signature checking on, no distribution feeds (offline)
	install -m755 "$S/usr/bin/opkg-cl" "$R/bin/opkg"
	install -m755 "$OW/package/system/opkg/files/opkg-key" "$R/usr/sbin/opkg-key"
	cp "$OW/package/system/opkg/files/opkg.conf" "$R/etc/opkg.conf"
	echo "option check_signature" >>"$R/etc/opkg.conf"
	cp "$OW/package/system/opkg/files/customfeeds.conf" "$R/etc/opkg/customfeeds.conf"
	: >"$R/etc/opkg/distfeeds.conf"

	# apk v3 (what OpenWrt 25.12 ships) at its 25.12 path
	install -m755 "$S/usr/bin/apk" "$R/usr/bin/apk"
	: >"$R/etc/apk/repositories.d/distfeeds.list"
	echo "# add your own feeds here" >"$R/etc/apk/repositories.d/customfeeds.list"

	# firewall4: its package files; its default /etc/config/firewall is kept aside (a lab without
	# --net shares the host's network namespace, where an fw4 reload would replace the host's
	# inet fw4 table): tests copy a config in explicitly
	cp -a "$B/firewall4/root/." "$R/"
	mv "$R/etc/config/firewall" "$R/usr/share/v6only-lab/firewall.default"
	for f in ruleset-pre ruleset-post table-pre table-post chain-pre chain-post; do
		mkdir -p "$R/usr/share/nftables.d/$f"
	done
	install -m755 "$(command -v nft)" "$R/usr/sbin/nft"

	assemble_webui "$R"

	# our glue: /sbin/lab-init, /etc/config/system, the minimal firewall config
	cp -a "$HERE/rootfs/." "$R/"
	chmod 755 "$R/sbin/lab-init"

	register_base_packages "$R"

	# RUNPATH relative to each file, so the OpenWrt programs also run from the host (hostbin/)
	local elf
	while IFS= read -r elf; do
		case $elf in
		"$R/bin/busybox" | "$R/usr/sbin/nft") continue ;;
		"$R"/usr/lib/ucode/*/*) patchelf --set-rpath '$ORIGIN/../..' "$elf" ;;
		"$R"/usr/lib/ucode/* | "$R"/usr/lib/rpcd/*) patchelf --set-rpath '$ORIGIN/..' "$elf" ;;
		"$R"/usr/lib/* | "$R"/lib/*) patchelf --set-rpath '$ORIGIN:$ORIGIN/../usr/lib' "$elf" ;;
		*) patchelf --set-rpath '$ORIGIN/../lib:$ORIGIN/../usr/lib:$ORIGIN/../../usr/lib' "$elf" ;;
		esac
	done < <(elf_files "$R")

	# the host's shared libraries they need (glibc, json-c, OpenSSL, zlib, nft's), at the same paths
	local lib
	while IFS= read -r lib; do
		[ -e "$R$lib" ] || { mkdir -p "$(dirname "$R$lib")" && cp -L "$lib" "$R$lib"; }
	done < <(host_libs_needed "$R")
	# looked up at run time, not linked: NSS (user and group names), libgcc_s (dynamic Rust/C++)
	for lib in libnss_files.so.2 libnss_dns.so.2 libresolv.so.2 libgcc_s.so.1; do
		[ -e "$R/lib/x86_64-linux-gnu/$lib" ] || cp -L "/lib/x86_64-linux-gnu/$lib" "$R/lib/x86_64-linux-gnu/$lib"
	done
	printf '%s\n' /usr/lib /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu >"$R/etc/ld.so.conf"
	ldconfig -r "$R"
	chmod 600 "$R/etc/shadow"
	chmod -R go-w "$R"
}

# elf_files DIR: the ELF executables and libraries below DIR
elf_files() {
	find "$1" -type f \( -perm -u+x -o -name '*.so*' \) -print0 |
		while IFS= read -r -d '' f; do
			[ "$(head -c4 "$f" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ] && echo "$f"
		done
}

# host_libs_needed DIR: host paths of the shared libraries DIR's ELF files need from the host
host_libs_needed() {
	local R=$1
	elf_files "$R" | while IFS= read -r f; do
		LD_LIBRARY_PATH=$R/usr/lib:$R/lib ldd "$f" 2>/dev/null || true
	done | awk -v R="$R" '
		$2 == "=>" && $3 ~ /^\// && index($3, R) != 1 { print $3 }
		$1 ~ /^\/lib64\// { print $1 }' | sort -u
}

# assemble_webui ROOT: uhttpd, rpcd and LuCI where their OpenWrt packages put them, configured
# as a first boot leaves them (the uci-defaults of uhttpd, luci-base's postinst); started only
# by `lab.sh start --luci`. root's password is "v6only" (rpcd's login checks /etc/shadow).
assemble_webui() {
	local R=$1 W=$B/webui m
	local U=$W/package/network/services/uhttpd/files P=$W/package/system/rpcd/files
	install -m755 "$S/usr/bin/uhttpd" "$R/usr/sbin/uhttpd"
	install -m755 "$U/uhttpd.init" "$R/etc/init.d/uhttpd"
	sed 's/%D/OpenWrt/g' "$U/uhttpd.config" >"$R/etc/config/uhttpd"
	install -m755 "$S/usr/sbin/rpcd" "$R/sbin/rpcd"
	install -m755 "$P/rpcd.init" "$R/etc/init.d/rpcd"
	cp "$P/rpcd.config" "$R/etc/config/rpcd"
	mkdir -p "$R/usr/lib/rpcd" "$R/usr/share/rpcd/acl.d" "$R/www"
	install -m755 "$S"/usr/lib/rpcd/*.so "$R/usr/lib/rpcd/"
	install -m644 "$B/rpcd/unauthenticated.json" "$R/usr/share/rpcd/acl.d/"
	for m in "$W"/stage/*; do cp -R "$m/." "$R/"; done
	# what uhttpd's 00_uhttpd_ubus and luci-base's postinst do on a router's first boot
	local uci=("$S/usr/bin/uci" -c "$R/etc/config")
	LD_LIBRARY_PATH=$S/usr/lib "${uci[@]}" set uhttpd.main.ubus_prefix=/ubus
	LD_LIBRARY_PATH=$S/usr/lib "${uci[@]}" add_list uhttpd.main.ucode_prefix=/cgi-bin/luci=/usr/share/ucode/luci/uhttpd.uc
	# and luci-theme-bootstrap's 30_luci-theme-bootstrap (its themes; the default one is set)
	LD_LIBRARY_PATH=$S/usr/lib "${uci[@]}" set luci.themes.Bootstrap=/luci-static/bootstrap
	rm -f "$R/etc/uci-defaults/30_luci-theme-bootstrap"
	LD_LIBRARY_PATH=$S/usr/lib "${uci[@]}" commit
	sed -i "s|^root:[^:]*:|root:$(openssl passwd -5 -salt v6onlylab v6only):|" "$R/etc/shadow"
}
