#!/usr/bin/env python3
"""The settings forms of luci-app-v6only validate as the init scripts do: for every section type
an init script validates (`uci_load_validate CONFIG TYPE ... 'option:type[:default]'`), the form
over CONFIG has a section of that TYPE with every option, a bool as a Flag, `list(T)` as a
DynamicList of T, any other type as the widget's `o.datatype` exactly. Prints PASS/FAIL lines.

    datatypes.py FEED_DIR
"""

import os
import re
import sys

FEED = sys.argv[1]
SETTINGS = os.path.join(FEED, "luci-app-v6only/files/htdocs/luci-static/resources/view/v6only/settings")
failed = 0


def init_types():
    """{(config, section type): {option: type}} of every init script of the feed."""
    out = {}
    for pkg in sorted(os.listdir(FEED)):
        d = os.path.join(FEED, pkg, "files")
        for f in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            if not f.endswith(".init"):
                continue
            text = open(os.path.join(d, f)).read()
            for m in re.finditer(r"uci_load_validate (\S+) (\S+) \"\$1\" \"\$2\" \\\n((?:\s*'[^']*'(?: \\)?\n)+)", text):
                opts = {}
                for spec in re.findall(r"'([^']*)'", m.group(3)):
                    name, typ = spec.split(":")[:2]
                    opts[name] = typ
                out[(m.group(1), m.group(2))] = opts
    return out


def form_types():
    """{(config, section type): {option: (widget, datatype)}} of the settings views."""
    out = {}
    for f in sorted(os.listdir(SETTINGS)):
        maps, cur = {}, None
        for line in open(os.path.join(SETTINGS, f)):
            m = re.search(r"(\w+) = new form\.Map\('([^']+)'", line)
            if m:
                maps[m.group(1)] = m.group(2)
            m = re.search(r"s = (\w+)\.section\(form\.(\w+), '([^']+)'(?:, '([^']+)')?", line)
            if m:
                stype = m.group(4) if m.group(2) == "NamedSection" else m.group(3)
                cur = out.setdefault((maps[m.group(1)], stype), {})
            m = re.search(r"s\.option\(form\.(\w+), '([^']+)'.*?(?:o\.datatype = '([^']*)')?;?\s*$", line)
            if m and cur is not None:
                dt = re.search(r"o\.datatype = '([^']*)'", line)
                cur[m.group(2)] = (m.group(1), dt.group(1) if dt else None)
    return out


def main():
    global failed
    inits, forms = init_types(), form_types()
    # the section types the forms must cover: those of the daemons the app has pages for
    want = [k for k in inits if k[0] in ("dns64", "nat64", "option108-dhcpd", "dhcp", "ripng", "mesh-monitor")]
    if len(want) < 10:
        print("FAIL datatypes: only %d validated section types found in the init scripts" % len(want))
        return 1
    for key in sorted(want):
        form = forms.get(key)
        if form is None:
            print("FAIL settings form for %s.%s: no section of that type" % key)
            failed += 1
            continue
        bad = []
        for opt, typ in inits[key].items():
            w = form.get(opt)
            if w is None:
                bad.append("%s missing" % opt)
            elif typ == "bool":
                if w[0] != "Flag":
                    bad.append("%s: %s, not a Flag" % (opt, w[0]))
            elif typ.startswith("list("):
                if w != ("DynamicList", typ[5:-1]):
                    bad.append("%s: %s %s, init %s" % (opt, w[0], w[1], typ))
            elif w[1] != typ:
                bad.append("%s: datatype %s, init %s" % (opt, w[1], typ))
        extra = sorted(set(form) - set(inits[key]))
        if extra:
            bad.append("not validated by the init script: %s" % ", ".join(extra))
        if bad:
            failed += 1
            print("FAIL settings form for %s.%s validates as the init script: %s" % (key + ("; ".join(bad),)))
        else:
            print("PASS settings form for %s.%s validates as the init script (%d options)" % (key + (len(form),)))
    return failed


if __name__ == "__main__":
    sys.exit(1 if main() else 0)
