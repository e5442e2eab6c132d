#!/usr/bin/env python3
"""The browser half of tests/openwrt/luci.sh: headless Chromium (cdp.py) logs in to the lab's
LuCI as a user would, opens each luci-app-v6only page, compares what it shows with the
daemons' own `status` read at the same moment in the lab, changes a setting with Save & Apply,
and has an invalid value refused. Prints PASS/FAIL lines (luci.sh counts them) and saves a
screenshot of each page in OUT.

    LAB_SH=tests/openwrt/lab/lab.sh L=/tmp/v6only-lab.X OUT=dir PASSWORD=v6only ui.py
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cdp  # noqa: E402

LAB_SH, LAB, OUT = os.environ["LAB_SH"], os.environ["L"], os.environ["OUT"]
PASSWORD = os.environ.get("PASSWORD", "v6only")
BASE = "http://127.0.0.1/cgi-bin/luci/admin/services/v6only"
DAEMONS = ["option108-dhcpd", "dns64", "nat64", "ripng", "mesh-monitor"]
failed = 0


def result(ok, name, detail=""):
    global failed
    if ok:
        print("PASS %s" % name)
    else:
        failed += 1
        print("FAIL %s%s" % (name, ": " + detail if detail else ""))
    sys.stdout.flush()
    return ok


def lab(*argv):
    r = subprocess.run([LAB_SH, "exec", LAB] + list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return r.returncode, r.stdout.decode()


def status(d):
    rc, out = lab("/usr/sbin/" + d, "status")
    return json.loads(out) if rc == 0 else None


def service_pid(d):
    rc, out = lab("ubus", "call", "service", "list", json.dumps({"name": d}))
    for i in json.loads(out or "{}").get(d, {}).get("instances", {}).values():
        if i.get("running"):
            return i.get("pid")
    return None


def seconds(text):
    """LuCI's '%t' (e.g. '1h 2m 3s') in seconds."""
    n = 0
    for v, u in re.findall(r"(\d+)([dhms])", text or ""):
        n += int(v) * {"d": 86400, "h": 3600, "m": 60, "s": 1}[u]
    return n


def expected_overview(d, s):
    """What the overview must show for daemon d, from its status s: {figure: text}."""
    if d == "option108-dhcpd":
        pools, c = s["pools"], s["counters"]
        v6 = sum(p["ipv6_only_clients"] for p in pools)
        return {"pools": len(pools), "ipv6_only_clients": v6, "ipv4_saved": v6,
                "active_leases": sum(p["active_leases"] for p in pools), "free": sum(p["free"] for p in pools),
                "ipv6_only": c["ipv6_only"], "discovers_requests": "%d / %d" % (c["discovers"], c["requests"]),
                "acks": c["acks"]}
    if d == "dns64":
        return {"queries": s["queries"], "synthesized": s["synthesized"], "ptr_synthesized": s["ptr_synthesized"],
                "cache_hits": s["cache_hits"], "cache_misses": s["cache_misses"],
                "upstream_errors": "%d / %d" % (s["upstream_failures"], s["upstream_timeouts"]),
                "upstreams": ", ".join(s["upstreams"]) or "-"}
    if d == "nat64":
        se, dr = s["sessions"], s["drops"]
        reasons = ", ".join("%s %d" % (k, v) for k, v in dr.items() if v > 0) or "none"
        return {"prefix": s["prefix"], "sessions": "%d (%d / %d / %d)" % (se["total"], se["tcp"], se["udp"], se["icmp"]),
                "v6_to_v4": s["translations"]["v6_to_v4"], "v4_to_v6": s["translations"]["v4_to_v6"],
                "drops": sum(dr.values()), "drop_reasons": reasons}
    if d == "ripng":
        return {"interfaces": len(s["interfaces"]), "neighbors": len(s["neighbors"]),
                "routes": len([r for r in s["routes"] if r["state"] == "valid"]), "installed": s["kernel"]["installed"]}
    return {"state": s["state"], "interfaces": len(s["interfaces"]), "peers": len(s["stations"]),
            "paths": len(s["paths"]), "polls": s["polls"]}


def refreshes(b, box):
    return int(b.eval("+(document.getElementById(%s) || {getAttribute: () => 0}).getAttribute('data-refreshes') || 0"
                      % json.dumps(box)))


def fresh(b, box, timeout=15):
    """Waits for the page's next poll: what it shows then was fetched after this call."""
    n = refreshes(b, box)
    b.wait("+document.getElementById(%s).getAttribute('data-refreshes') > %d" % (json.dumps(box), n),
           timeout, "a refresh of #%s" % box)


def texts(b, ids):
    return b.eval("(%s).map(i => { const e = document.getElementById(i); return e ? e.textContent : null; })"
                  % json.dumps(ids))


def table(b, tid):
    """{data-key: [cell texts]} of a table of the page."""
    return b.eval("""(() => { const t = document.getElementById(%s); if (!t) return null; const o = {};
        t.querySelectorAll('tr[data-key]').forEach(r => o[r.getAttribute('data-key')] =
            Array.from(r.children).map(c => c.textContent)); return o; })()""" % json.dumps(tid))


def shot(b, name):
    path = os.path.join(OUT, "luci-%s.png" % name)
    b.screenshot(path)
    return path


def view_ready(b, box):
    b.wait("document.getElementById(%s) && !document.querySelector('#view .spinning')" % json.dumps(box),
           30, "the view #%s" % box)


def compare_overview(b):
    """Status of every daemon read in the lab, then the page's next refresh compared with it;
    up to 3 tries (a NAT64 session may expire between the two reads)."""
    for attempt in range(3):
        st = {d: status(d) for d in DAEMONS}
        pids = {d: service_pid(d) for d in DAEMONS}
        t0 = time.time()
        fresh(b, "v6o-overview")
        waited = time.time() - t0
        bad = []
        for d in DAEMONS:
            s = st[d]
            if s is None:
                bad.append("%s: no status in the lab" % d)
                continue
            exp = expected_overview(d, s)
            ids = ["v6o-%s-%s" % (d, k) for k in exp] + ["v6o-%s-running" % d, "v6o-%s-pid" % d, "v6o-%s-uptime" % d]
            got = dict(zip(ids, texts(b, ids)))
            for k, v in exp.items():
                if got["v6o-%s-%s" % (d, k)] != str(v):
                    bad.append("%s %s: page %r, status %r" % (d, k, got["v6o-%s-%s" % (d, k)], str(v)))
            if got["v6o-%s-running" % d] != "running" or got["v6o-%s-pid" % d] != str(pids[d]) or pids[d] != s["pid"]:
                bad.append("%s: page says %s pid %s; procd pid %s, status pid %s" % (
                    d, got["v6o-%s-running" % d], got["v6o-%s-pid" % d], pids[d], s["pid"]))
            up = seconds(got["v6o-%s-uptime" % d])
            if not s["uptime"] <= up <= s["uptime"] + waited + 2:
                bad.append("%s uptime: page %r (%d s), status %d s" % (d, got["v6o-%s-uptime" % d], up, s["uptime"]))
        if not bad:
            return True, "%d daemons" % len(DAEMONS)
    return False, "; ".join(bad)


def session_rows(d):
    """What the NAT64 page's sessions table must show for `nat64 sessions --json` d:
    {key: (session, the cells before the timers)}."""
    rows = {}
    for x in d["sessions"]:
        client, remote = "[%s]:%d" % (x["ipv6"], x["ipv6_port"]), "%s:%d" % (x["remote"], x["remote_port"])
        pool = "%s:%d" % (x["ipv4"], x["ipv4_port"]) + (" (static)" if x["static"] else "")
        rows["%s %s %s" % (x["proto"], client, remote)] = (x, [x["proto"], client, pool, remote, x["state"] or "-"])
    return rows


def compare_sessions(b):
    """`nat64 sessions --json` read in the lab, then the page's next refresh: the same rows, the
    same cells, the timers as far as the time between the two reads moves them. Up to 3 tries
    (a session may expire in between). The held TCP connection and UDP flow of luci.sh must
    be among them."""
    bad = []
    for attempt in range(3):
        rc, out = lab("/usr/sbin/nat64", "sessions", "--json")
        t0 = time.time()
        fresh(b, "v6o-nat64")
        waited = time.time() - t0
        try:
            want = session_rows(json.loads(out)) if rc == 0 else None
        except ValueError:
            want = None
        if want is None:
            bad = ["nat64 sessions --json in the lab: %r" % out]
            continue
        rows = table(b, "v6o-nat64-list") or {}
        bad = []
        if sorted(rows) != sorted(want):
            bad.append("page rows %s, lab %s" % (sorted(rows), sorted(want)))
        for k, (x, cells) in want.items():
            r = rows.get(k)
            if r is None:
                continue
            if r[:5] != cells:
                bad.append("%s: page %s, lab %s" % (k, r[:5], cells))
            elif not (x["idle"] <= int(r[5]) <= x["idle"] + waited + 1
                      and x["expires_in"] - waited - 1 <= int(r[6]) <= x["expires_in"]):
                bad.append("%s: page idle %s expires %s, lab %d %d (%.1f s later)" % (
                    k, r[5], r[6], x["idle"], x["expires_in"], waited))
        held = [k for k, (x, c) in want.items() if x["proto"] == "tcp" and x["remote"] == "192.0.2.2"
                and x["remote_port"] == 8000 and x["state"] == "ESTABLISHED"]
        held += [k for k, (x, c) in want.items() if x["proto"] == "udp" and x["remote"] == "192.0.2.2"
                 and x["remote_port"] == 9]
        if len(held) != 2:
            bad.append("the held TCP connection and UDP flow to 192.0.2.2 not both listed: %s" % sorted(want))
        if b.eval("!!document.getElementById('v6o-nat64-truncated')"):
            bad.append("the page says truncated")
        if not bad:
            return True, "%d rows: %s" % (len(want), ", ".join(sorted(want)))
    return False, "; ".join(bad)


def main():
    os.makedirs(OUT, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="v6only-chromium.")
    b = cdp.Browser([LAB_SH, "net", LAB], profile)
    try:
        run(b)
    except cdp.BrowserError as e:
        result(False, "browser", str(e))
        try:  # what the page showed then
            print("page %s:\n%s" % (b.eval("location.href"), b.eval("document.body.innerText.slice(0, 1500)")))
            shot(b, "failed")
        except cdp.BrowserError:
            pass
    finally:
        errors = list(b.errors)
        b.close()
        subprocess.run(["rm", "-rf", profile])
    result(not errors, "no JavaScript errors or console.error on any page", "; ".join(errors[:5]))
    return failed


def run(b):
    # --- login, as a user: LuCI's login form, then the page asked for
    b.goto(BASE + "/overview")
    result(b.eval("!!document.querySelector('input[name=luci_password]')"), "not logged in: LuCI's login form")
    for attempt in range(3):
        b.eval("""(() => { const f = document.querySelector('input[name=luci_password]').form;
            f.querySelector('input[name=luci_username]').value = 'root';
            f.querySelector('input[name=luci_password]').value = %s;
            const btn = f.querySelector('button, input[type=submit]') ||
                document.querySelector('.cbi-page-actions button, button.cbi-button-positive');
            if (btn) btn.click(); else f.submit(); return 1; })()""" % json.dumps(PASSWORD))
        # the next document: the view, or the login form again (with LuCI's reason, if any)
        try:
            b.wait("!!document.getElementById('v6o-overview')", 10, "the overview after login")
            break
        except cdp.BrowserError:
            print("login attempt %d: still %s, login form %s, says %r; logread: %s" % (
                attempt + 1, b.eval("location.href"), b.eval("!!document.querySelector('input[name=luci_password]')"),
                b.eval("(document.querySelector('.alert-message, .error') || {}).textContent || ''"),
                lab("logread")[1].strip().splitlines()[-3:]))
            b.goto(BASE + "/overview")
    view_ready(b, "v6o-overview")
    result(True, "logged in as root: the overview renders")
    tabs = b.eval("Array.from(document.querySelectorAll('#tabmenu ul.tabs li a')).map(a => a.textContent)")
    want = ["Overview", "NAT64 sessions", "RIPng routes", "Mesh", "Settings"]
    result(tabs[:5] == want, "tabs of the installed daemons: %s" % ", ".join(want), "got %s" % tabs)

    ok, detail = compare_overview(b)
    result(ok, "overview: service, pid, uptime and every figure equal each daemon's status (%s)" % (
        detail if ok else "mismatch"), "" if ok else detail)
    shot(b, "overview")

    # --- NAT64 sessions
    b.goto(BASE + "/nat64")
    view_ready(b, "v6o-nat64")
    s = status("nat64")
    fresh(b, "v6o-nat64")
    sess, tr, dr = table(b, "v6o-nat64-sessions"), table(b, "v6o-nat64-translations"), table(b, "v6o-nat64-drops")
    ok = (sess and tr and dr
          and all(sess[k][1] == str(s["sessions"][k]) for k in ("tcp", "udp", "icmp", "total", "max"))
          and {k: v[1] for k, v in tr.items()} == {k: str(v) for k, v in s["translations"].items()}
          and {k: v[1] for k, v in dr.items()} == {k: str(v) for k, v in s["drops"].items()})
    result(bool(ok), "NAT64 sessions: sessions by protocol, translations and every drop reason equal nat64 status "
           "(v6_to_v4 %d)" % s["translations"]["v6_to_v4"], "page %s %s %s, status %s" % (sess, tr, dr, s))
    ok, detail = compare_sessions(b)
    result(ok, "NAT64 sessions: a row per session of `nat64 sessions --json` (%s), both ends, TCP state, idle "
           "and expiry" % (detail if ok else "mismatch"), "" if ok else detail)
    shot(b, "nat64")

    # --- RIPng routes
    b.goto(BASE + "/ripng")
    view_ready(b, "v6o-ripng")
    s = status("ripng")
    fresh(b, "v6o-ripng")
    rows = table(b, "v6o-ripng-routes") or {}
    want = {r["prefix"]: [r["prefix"], str(r["metric"]), r["source"], r.get("next_hop") or "-",
                          r.get("interface") or "-", r["state"]] for r in s["routes"]}
    got = {k: v[:6] for k, v in rows.items()}
    result(bool(want) and got == want, "RIPng routes: the table's prefix, metric, source, next hop, interface and "
           "state equal ripng status (%d routes)" % len(want), "page %s, status %s" % (got, want))
    ifs = table(b, "v6o-ripng-interfaces") or {}
    result(sorted(ifs) == sorted(i["name"] for i in s["interfaces"]), "RIPng routes: the interfaces of ripng status",
           "page %s" % ifs)
    shot(b, "ripng")

    # --- Mesh: the topology export as an SVG graph, metrics on the edges
    b.goto(BASE + "/mesh")
    view_ready(b, "v6o-mesh")
    topo = json.loads(lab("cat", os.environ["TOPOLOGY_FILE"])[1])
    g = b.wait("""(() => { const s = document.getElementById('v6o-mesh-graph'); if (!s) return null;
        return { nodes: Array.from(s.querySelectorAll('.v6o-node')).map(n => n.getAttribute('data-id')).sort(),
                 edges: Array.from(s.querySelectorAll('line.v6o-edge')).map(e =>
                     [e.getAttribute('data-kind'), e.getAttribute('data-from'), e.getAttribute('data-to')].join(' ')).sort(),
                 metrics: Array.from(s.querySelectorAll('text.v6o-metric')).map(t =>
                     [t.getAttribute('data-kind'), t.getAttribute('data-from'), t.getAttribute('data-to'), t.textContent].join(' ')).sort() }; })()""",
               15, "the mesh graph")
    want_nodes = sorted(n["id"] for n in topo["nodes"])
    want_edges = sorted("%s %s %s" % (e["kind"], e["from"], e["to"]) for e in topo["edges"])
    want_metrics = sorted("%s %s %s %d" % (e["kind"], e["from"], e["to"], e["metric"]) for e in topo["edges"]
                          if e.get("metric") is not None)
    result(g["nodes"] == want_nodes and g["edges"] == want_edges,
           "Mesh: the SVG graph has the export's %d nodes and %d edges" % (len(want_nodes), len(want_edges)),
           "page %s" % g)
    result(g["metrics"] == want_metrics and want_metrics,
           "Mesh: each link and path is labelled with its metric (%s)" % ", ".join(m.split()[-1] for m in want_metrics),
           "page %s, export %s" % (g["metrics"], want_metrics))
    shot(b, "mesh")

    settings(b)
    degraded(b)


def tab_titles(b):
    return b.eval("Array.from(document.querySelectorAll('#tabmenu ul.tabs li a')).map(a => a.textContent)")


def degraded(b):
    # --- a stopped daemon: its section says so, the rest of the page goes on
    lab("/etc/init.d/nat64", "stop")
    end = time.time() + 10
    while time.time() < end and status("nat64") is not None:
        time.sleep(0.3)
    b.goto(BASE + "/overview")
    view_ready(b, "v6o-overview")
    fresh(b, "v6o-overview")
    s = status("dns64")
    got = texts(b, ["v6o-nat64-running", "v6o-nat64-uptime", "v6o-dns64-running", "v6o-dns64-queries"])
    err = b.eval("(document.querySelector('#v6o-nat64 .v6o-error') || {}).textContent || ''")
    result(got[:3] == ["stopped", "-", "running"] and got[3] == str(s["queries"]) and "no daemon is listening" in err,
           "nat64 stopped: the overview shows it stopped with the reason, dns64 as before",
           "got %s, %r" % (got, err))
    shot(b, "overview-nat64-stopped")
    b.goto(BASE + "/nat64")
    view_ready(b, "v6o-nat64")
    err = b.eval("(document.querySelector('#v6o-nat64 .v6o-error') || {}).textContent || ''")
    result("Not running" in err, "nat64 stopped: the NAT64 page says it is not running", repr(err))

    # --- a daemon removed: its pages go from the menu. LuCI caches its menu index in /tmp
    # (built while the pages above were shown); the package's prerm clears it, as its postinst
    # does when it is installed, so nothing is cleared by hand here. (The browser keeps the
    # menu of its session in sessionStorage: a new session's.)
    rc, cached = lab("sh", "-c", "ls /tmp/luci-indexcache.*")
    result(rc == 0 and cached.strip() != "", "LuCI's menu index is cached: %s" % " ".join(cached.split()), cached)
    rc, out = lab("opkg", "remove", "mesh-monitor")
    rc2, left = lab("sh", "-c", "ls /tmp/luci-indexcache.* 2>/dev/null")
    result(rc == 0 and left.strip() == "", "opkg remove mesh-monitor: its prerm cleared LuCI's menu cache",
           "opkg %s, cache %r" % (out.strip()[-300:], left))
    b.eval("sessionStorage.clear(), 1")
    b.goto(BASE + "/overview")
    view_ready(b, "v6o-overview")
    tabs = tab_titles(b)
    result("Mesh" not in tabs and "Mesh monitor" not in tabs and not b.eval("!!document.getElementById('v6o-mesh-monitor')"),
           "mesh-monitor removed (opkg remove): no Mesh tab, no section on the overview", "tabs %s" % tabs)
    b.goto(BASE + "/settings/dns64")
    b.wait("!!document.getElementById('widget.cbid.dns64.main.port')", 30, "the dns64 form")
    tabs = tab_titles(b)
    code = b.eval("fetch(%s).then(r => r.status)" % json.dumps(BASE + "/mesh"))
    result("Mesh monitor" not in tabs and "DNS64" in tabs and code == 404,
           "... nor its settings tab; /admin/services/v6only/mesh answers 404", "tabs %s, HTTP %s" % (tabs, code))


def settings(b):
    # --- Settings: dns64's form, a change saved and applied, then an invalid value refused
    b.goto(BASE + "/settings/dns64")
    b.wait("!!document.getElementById('widget.cbid.dns64.main.cache_size')", 30, "the dns64 form")
    b.wait("!document.querySelector('#view .spinning')", 10)
    pid = service_pid("dns64")
    before = status("dns64")
    b.eval("""(() => { const i = document.getElementById('widget.cbid.dns64.main.cache_size');
        i.value = '2048'; i.dispatchEvent(new Event('input', {bubbles: true}));
        i.dispatchEvent(new Event('blur', {bubbles: true})); return 1; })()""")
    shot(b, "settings-dns64")
    b.eval("document.querySelector('.cbi-page-actions .cbi-button-apply').click(), 1")
    applied = False
    try:
        b.wait("document.body.innerText.indexOf('Configuration changes applied') >= 0", 45, "'Configuration changes applied'")
        applied = True
    except cdp.BrowserError as e:
        result(False, "Save & Apply: LuCI says 'Configuration changes applied'", str(e))
    if applied:
        result(True, "Save & Apply of cache_size 2048: LuCI says 'Configuration changes applied' (apply with rollback, confirmed)")
    rc, out = lab("uci", "get", "dns64.main.cache_size")
    result(out.strip() == "2048", "/etc/config/dns64: cache_size '2048'", "uci get: %r" % out)
    rc, conf = lab("cat", "/etc/config/dns64")
    result("option cache_size '2048'" in conf, "... written to the file by uci commit", conf[-300:])
    end = time.time() + 15
    after = None
    while time.time() < end:
        after = status("dns64")
        if after and after["cache"]["limit"] == 2048 * 1024:
            break
        time.sleep(0.5)
    result(after is not None and after["cache"]["limit"] == 2048 * 1024 and before["cache"]["limit"] != after["cache"]["limit"],
           "dns64 reloaded through procd's trigger: status cache.limit %s -> %s bytes" % (
               before["cache"]["limit"], after and after["cache"]["limit"]))
    rc, log = lab("logread")
    result(service_pid("dns64") == pid and re.search(r"dns64\[%s\]: reloaded" % pid, log) is not None,
           "... in place: same pid %s, 'reloaded' in logread" % pid)

    # an invalid port: the field is marked, Save refuses, nothing changes
    b.goto(BASE + "/settings/dns64")
    b.wait("!!document.getElementById('widget.cbid.dns64.main.port')", 30, "the dns64 form")
    b.wait("!document.querySelector('#view .spinning')", 10)
    b.eval("""(() => { const i = document.getElementById('widget.cbid.dns64.main.port');
        i.value = '99999'; i.dispatchEvent(new Event('input', {bubbles: true}));
        i.dispatchEvent(new Event('blur', {bubbles: true})); return 1; })()""")
    invalid = b.wait("document.getElementById('widget.cbid.dns64.main.port').classList.contains('cbi-input-invalid')",
                     5, "the port field marked invalid")
    result(invalid, "port 99999: the field is marked invalid (datatype port, as the init script's 'port:port')")
    n0 = len(b.errors)
    b.eval("document.querySelector('.cbi-page-actions .cbi-button-save').click(), 1")
    time.sleep(1.5)
    msg = b.eval("document.body.innerText")
    # the form's refusal reaches the page as the rejected save's error: expected here, only here
    refusal = b.errors[n0:]
    del b.errors[n0:]
    result(len(refusal) == 1 and 'Option "Port" contains an invalid input value' in refusal[0],
           "Save with port 99999: the form refuses it ('Option \"Port\" contains an invalid input value')",
           "errors %s" % refusal)
    shot(b, "settings-dns64-invalid")
    rc, changes = lab("uci", "changes", "dns64")
    rc2, port = lab("uci", "-q", "get", "dns64.main.port")
    result(re.search(r"invalid", msg, re.I) is not None and changes.strip() == "" and port.strip() == "53",
           "Save with port 99999: refused ('invalid' shown), no uci change, port still 53",
           "changes %r, port %r" % (changes, port))

    # the other settings pages render their forms
    for page, cfg in (("nat64", "nat64"), ("dhcp", "option108-dhcpd"), ("ripng", "ripng"), ("mesh", "mesh-monitor")):
        b.goto(BASE + "/settings/" + page)
        ok = b.wait("document.querySelector('.cbi-map') && !document.querySelector('#view .spinning') && "
                    "!!document.querySelector('[id^=\"cbid.%s.\"], [id^=\"widget.cbid.%s.\"]')" % (cfg, cfg), 30,
                    "the %s form" % page)
        result(bool(ok), "Settings > %s: the form over /etc/config/%s renders" % (page, cfg))
        shot(b, "settings-" + page)


if __name__ == "__main__":
    sys.exit(1 if main() else 0)
