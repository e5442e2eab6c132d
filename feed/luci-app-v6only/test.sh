#!/bin/sh
# openwrt/packages CI runs this as: test.sh <package name> <package version>.
# luci-app-v6only has no program to ask for its version: its menu and ACL must be valid JSON
# (jsonfilter, as on a router; python3 elsewhere), every view the menu names must exist, and
# the ACL must grant the group the menu depends on. Installed files are checked when the
# package is installed, else the package's own files next to this script.

case "$1" in
luci-app-v6only) ;;
*) exit 0 ;;
esac

if [ -f /usr/share/luci/menu.d/luci-app-v6only.json ]; then
	menu=/usr/share/luci/menu.d/luci-app-v6only.json
	acl=/usr/share/rpcd/acl.d/luci-app-v6only.json
	views=/www/luci-static/resources/view
else
	here=$(dirname "$0")/files
	menu=$here/luci-app-v6only.menu
	acl=$here/luci-app-v6only.acl
	views=$here/htdocs/luci-static/resources/view
fi

if command -v jsonfilter >/dev/null; then
	views_of() { jsonfilter -i "$menu" -e '@[*].action.path'; }
	menuacl_of() { jsonfilter -i "$menu" -e '@[*].depends.acl[*]'; }
	has_group() { [ -n "$(jsonfilter -i "$acl" -e "@['$1'].description")" ]; }
else
	py() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); $2" "$1"; }
	views_of() { py "$menu" 'print("\n".join(n["action"]["path"] for n in d.values() if "path" in n.get("action", {})))'; }
	menuacl_of() { py "$menu" 'print("\n".join(g for n in d.values() for g in n.get("depends", {}).get("acl", [])))'; }
	has_group() { py "$acl" "sys.exit(0 if d.get('$1', {}).get('description') else 1)"; }
fi

n=0
for v in $(views_of); do
	[ -f "$views/$v.js" ] || { echo "menu names view $v: no $views/$v.js"; exit 1; }
	n=$((n + 1))
done
[ "$n" -ge 5 ] || { echo "expected at least 5 views in $menu, found $n"; exit 1; }
for g in $(menuacl_of); do
	has_group "$g" || { echo "menu depends on ACL group $g, which $acl does not define"; exit 1; }
done
echo "luci-app-v6only $2: $n views, menu and ACL consistent"
