#!/usr/bin/env python3
"""compare.py CONSOLE.LOG - the checks of a mesh lab run (tests/mesh/lab.sh with hook.sh).

Reads the guest console: the lab's own checks (iw side), and per phase and node the blocks
hook.sh printed: iw's station/mpath/mpp dumps taken just before and just after mesh-monitor's
JSON, mesh-monitor's text tables, topology, status and the daemon's log. Prints one line per
check, tab-separated: "PASS<TAB>name" or "FAIL<TAB>name<TAB>reason", and detail lines starting
with four spaces. Exit status 0 when every check passed.

mesh-monitor's answer is taken at a moment between iw's two: a field must equal what iw said
before or after (counters and timers: lie between, with the time between the reads as slack).
"""

import json
import re
import sys

# NL80211_MPATH_FLAG_* bits, by iw's names
MPATH_FLAGS = [(1, "ACTIVE"), (2, "RESOLVING"), (4, "SN_VALID"), (8, "FIXED"), (16, "RESOLVED")]
STATION_KEYS = ["mac", "iface", "plink_state", "llid", "plid", "signal_dbm", "airtime_metric",
                "inactive_ms", "tx_retries", "tx_failed", "connected_to_gate"]
MPATH_KEYS = ["dest", "next_hop", "iface", "sn", "metric", "qlen", "exptime_ms",
              "discovery_timeout_ms", "discovery_retries", "flags", "hop_count", "path_change"]
MPP_KEYS = ["dest", "proxy", "iface"]
MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
PREFIX = re.compile(r"^\s*\d+\.\d\d ")
# slack for timers compared across reads: the reads' spacing plus this (ms)
SLACK_MS = 150


class Block:
    def __init__(self, phase, node, tag, up):
        self.phase, self.node, self.tag = phase, node, tag
        self.t0 = float(up)
        self.t1 = self.t0
        self.rc = None
        self.lines = []

    @property
    def text(self):
        return "\n".join(self.lines)


def read_console(path):
    """Blocks keyed (phase, node, tag), LAB lines, the other marker lines, phase order."""
    blocks, lab, marks, phases = {}, [], [], []
    cur = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for raw in f:
            line = PREFIX.sub("", raw.rstrip("\n"), count=1)
            if cur is not None:
                i = line.find("@@@ END ")
                if i >= 0:
                    if i > 0:  # the command's last line had no newline
                        cur.lines.append(line[:i])
                    m = re.search(r"rc=(\d+) up=([\d.]+)", line[i:])
                    if m:
                        cur.rc, cur.t1 = int(m.group(1)), float(m.group(2))
                    blocks[(cur.phase, cur.node, cur.tag)] = cur
                    cur = None
                else:
                    cur.lines.append(line)
                continue
            m = re.match(r"@@@ BEGIN (\S+) (\S+) (\S+) up=([\d.]+)", line)
            if m:
                cur = Block(m.group(1), int(m.group(2)), m.group(3), m.group(4))
                continue
            m = re.match(r"LAB (ok|FAIL) (\S+): (.*)", line)
            if m:
                lab.append((m.group(1), m.group(2), m.group(3)))
                continue
            m = re.match(r"@PHASE (\S+)", line)
            if m:
                phases.append(m.group(1))
            if line.startswith(("LAB-", "@PHASE", "@HOOK")):
                marks.append(line)
    return blocks, lab, marks, phases


# ---- iw's text ---------------------------------------------------------------------------

def iw_num(s):
    m = re.match(r"\s*(-?\d+)", s)
    return int(m.group(1)) if m else None


def parse_iw_station(text):
    """iw dev X station dump -> {mac: {contract key: value}}"""
    out, cur = {}, None
    for line in text.splitlines():
        m = re.match(r"Station ([0-9a-f:]{17}) \(on (\S+)\)", line)
        if m:
            cur = {"mac": m.group(1), "iface": m.group(2)}
            out[cur["mac"]] = cur
            continue
        if cur is None or ":" not in line:
            continue
        key, _, val = line.strip().partition(":")
        val = val.strip()
        if key == "inactive time":
            cur["inactive_ms"] = iw_num(val)
        elif key == "tx retries":
            cur["tx_retries"] = iw_num(val)
        elif key == "tx failed":
            cur["tx_failed"] = iw_num(val)
        elif key == "signal":
            cur["signal_dbm"] = iw_num(val)
        elif key == "mesh llid":
            cur["llid"] = iw_num(val)
        elif key == "mesh plid":
            cur["plid"] = iw_num(val)
        elif key == "mesh plink":
            cur["plink_state"] = val
        elif key == "mesh airtime link metric":
            cur["airtime_metric"] = iw_num(val)
        elif key == "mesh connected to gate":
            cur["connected_to_gate"] = {"yes": True, "no": False}.get(val, val)
    return out


def flag_names(hexstr):
    v = int(hexstr, 16)
    return [name for bit, name in MPATH_FLAGS if v & bit]


def parse_iw_mpath(text):
    """iw dev X mpath dump -> {dest: {contract key: value}}"""
    out = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) < 10 or not MAC_RE.match(f[0]):
            continue
        row = {"dest": f[0], "next_hop": f[1], "iface": f[2], "sn": int(f[3]),
               "metric": int(f[4]), "qlen": int(f[5]), "exptime_ms": int(f[6]),
               "discovery_timeout_ms": int(f[7]), "discovery_retries": int(f[8]),
               "flags": flag_names(f[9])}
        if len(f) >= 12:
            row["hop_count"], row["path_change"] = int(f[10]), int(f[11])
        out[f[0]] = row
    return out


def parse_iw_mpp(text):
    out = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 3 and MAC_RE.match(f[0]):
            out[f[0]] = {"dest": f[0], "proxy": f[1], "iface": f[2]}
    return out


IW_PARSERS = {"station": parse_iw_station, "mpath": parse_iw_mpath, "mpp": parse_iw_mpp}
KEY_OF = {"station": "mac", "mpath": "dest", "mpp": "dest"}
CONTRACT = {"station": STATION_KEYS, "mpath": MPATH_KEYS, "mpp": MPP_KEYS}
# top-level names a wrapper object might use for the list
LIST_NAMES = {"station": ("stations", "station"), "mpath": ("paths", "mpath", "mpaths"),
              "mpp": ("proxies", "mpp")}


# ---- mesh-monitor's JSON -----------------------------------------------------------------

def our_list(kind, doc):
    """The list of objects in mesh-monitor's JSON answer (a list, or an object holding it)."""
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict):
        for name in LIST_NAMES[kind]:
            if isinstance(doc.get(name), list):
                return doc[name]
        lists = [v for v in doc.values() if isinstance(v, list)]
        if len(lists) == 1:
            return lists[0]
    raise ValueError(f"no list of {kind} objects in {str(doc)[:120]}")


def load_json(block):
    if block is None:
        raise ValueError("not printed")
    if block.rc != 0:
        raise ValueError(f"exit status {block.rc}: {block.text[:300]}")
    return json.loads(block.text)


def same(a, b):
    """Equal, with iw's "%d" of an unsigned 0xffffffff (-1) taken as that number."""
    if a == b:
        return True
    if isinstance(a, bool) or isinstance(b, bool):
        return False
    if isinstance(a, int) and isinstance(b, int):
        return (a & 0xFFFFFFFF) == (b & 0xFFFFFFFF) and a in (-1, 0xFFFFFFFF) and b in (-1, 0xFFFFFFFF)
    return False


def flag_key(flags):
    """The mpath flags compared. An ACTIVE path in use is refreshed before it expires
    (mesh_path_refresh_time): mac80211 sets RESOLVING, the answer sets RESOLVED, a timer clears
    both, all within milliseconds, so on an ACTIVE path these two may be anything between two
    reads of iw. On a path that is not ACTIVE every bit counts."""
    f = set(flags)
    return frozenset(f - {"RESOLVING", "RESOLVED"} if "ACTIVE" in f else f)


def compare_rows(kind, ours_list, before, after, t_before, t_ours0, t_ours1, t_after, iface):
    """Problems (strings) of mesh-monitor's rows against iw's two snapshots."""
    probs = []
    key = KEY_OF[kind]
    ours = {}
    for o in ours_list:
        if not isinstance(o, dict):
            probs.append(f"not an object: {o!r}")
            continue
        missing = [k for k in CONTRACT[kind] if k not in o]
        if missing:
            probs.append(f"{o.get(key)}: keys missing {missing}")
        k = o.get(key)
        if not isinstance(k, str) or not MAC_RE.match(k):
            probs.append(f"{key} {k!r} is not a lower-case MAC")
            continue
        ours[k] = o
    must = set(before) & set(after)
    may = set(before) | set(after)
    for k in sorted(must - set(ours)):
        probs.append(f"{k}: iw lists it (before and after), mesh-monitor does not")
    for k in sorted(set(ours) - may):
        probs.append(f"{k}: mesh-monitor lists it, iw does not (before or after)")
    # time between iw's reads and ours, for timers (ms)
    gap1 = (t_ours1 - t_before) * 1000 + SLACK_MS
    gap2 = (t_after - t_ours0) * 1000 + SLACK_MS
    for k in sorted(set(ours) & may):
        o, b, a = ours[k], before.get(k), after.get(k)
        snaps = [s for s in (b, a) if s is not None]
        resolving = False
        if kind == "mpath":
            # A path iw saw about to expire may have expired in between (and been refreshed
            # again by iw's second read): the state in between is iw's first without ACTIVE.
            if b and "ACTIVE" in b["flags"] and b["exptime_ms"] <= gap1:
                snaps.append(dict(b, flags=[x for x in b["flags"] if x != "ACTIVE"], exptime_ms=0))
            # While a discovery runs, its retries and timeout move every 100 ms << retries and
            # restart with each new discovery: checked for their relation, not by value.
            resolving = any("RESOLVING" in x["flags"] for x in snaps if x is b or x is a) or \
                "RESOLVING" in (o.get("flags") or [])
        if o.get("iface") != iface:
            probs.append(f"{k}: iface {o.get('iface')!r}, want {iface!r}")
        for f in CONTRACT[kind]:
            if f in (key, "iface") or f not in o:
                continue
            vals = [s[f] for s in snaps if f in s]
            if not vals:
                continue
            v = o[f]
            if resolving and f in ("qlen", "discovery_retries", "discovery_timeout_ms"):
                if f == "discovery_timeout_ms" and isinstance(v, int) and isinstance(o.get("discovery_retries"), int):
                    # a new discovery starts at mesh_min_discovery_timeout (100 ms in the lab)
                    bases = {x[f] >> x["discovery_retries"] for x in snaps if x[f]} | {100}
                    if v and not any(v == base << o["discovery_retries"] for base in bases):
                        probs.append(f"{k}: discovery_timeout_ms {v} with {o['discovery_retries']} retries, "
                                     f"iw {[(x[f], x['discovery_retries']) for x in snaps]}")
                elif f == "discovery_retries" and not (isinstance(v, int) and 0 <= v <= max(vals + [4])):
                    probs.append(f"{k}: discovery_retries {v}, iw {vals}")
                elif f == "qlen" and not (isinstance(v, int) and 0 <= v <= max(vals) + 2):
                    probs.append(f"{k}: qlen {v}, iw {vals}")
                continue
            if f == "flags":
                if not isinstance(v, list) or not any(flag_key(v) == flag_key(x) for x in vals):
                    probs.append(f"{k}: flags {v}, iw {' / '.join(str(x) for x in vals)}")
                continue
            if f in ("next_hop", "proxy") and not (isinstance(v, str) and MAC_RE.match(v)):
                probs.append(f"{k}: {f} {v!r} is not a lower-case MAC")
                continue
            if isinstance(vals[0], int) and not isinstance(vals[0], bool) and \
                    (not isinstance(v, int) or isinstance(v, bool)):
                probs.append(f"{k}: {f} {v!r} is not a number (iw: {vals[0]})")
                continue
            if f in ("tx_retries", "tx_failed"):
                lo = b.get(f) if b else None
                hi = a.get(f) if a else None
                if (lo is not None and v < lo) or (hi is not None and v > hi):
                    probs.append(f"{k}: {f} {v}, iw {lo} before and {hi} after")
            elif f == "inactive_ms":
                # grows with time, drops to ~0 on a frame: bounded by what it was plus the time
                if (b and f in b and v > b[f] + gap1) or (a and f in a and a[f] > v + gap2):
                    probs.append(f"{k}: {f} {v}, iw {b and b.get(f)} before and {a and a.get(f)} after "
                                 f"({gap1:.0f}/{gap2:.0f} ms apart)")
            elif f == "exptime_ms":
                # counts down to 0 and jumps up on a refresh: at most what iw read after plus
                # the time since (a refresh after ours only raises iw's), at least what iw read
                # before minus the time until ours
                lo = max(0, b[f] - gap1) if b and f in b else 0
                hi = a[f] + gap2 if a and f in a else float("inf")
                if not lo <= v <= hi:
                    probs.append(f"{k}: {f} {v}, iw {b and b.get(f)} before and {a and a.get(f)} after "
                                 f"({gap1:.0f}/{gap2:.0f} ms apart)")
            elif not any(same(v, x) for x in vals):
                probs.append(f"{k}: {f} {v!r}, iw {' / '.join(repr(x) for x in vals)}")
    return probs


# ---- checks ------------------------------------------------------------------------------

class Report:
    def __init__(self):
        self.failed = 0
        self.count = 0

    def check(self, name, problems):
        self.count += 1
        if problems:
            self.failed += 1
            print(f"FAIL\t{name}\t{problems[0]}")
            for p in problems[1:12]:
                print(f"    {p}")
            if len(problems) > 12:
                print(f"    ... {len(problems) - 12} more")
        else:
            print(f"PASS\t{name}")


def dump_check(blocks, phase, node, kind, ours_tag, b_tag, a_tag, getlist=None):
    """Problems of one mesh-monitor answer against iw's two dumps around it. With getlist
    (status), the answer is the daemon's last poll: taken at any time since iw's first dump
    (hook.sh waits longer than the poll interval before asking), not when it was asked."""
    b, o, a = (blocks.get((phase, node, t)) for t in (b_tag, ours_tag, a_tag))
    if b is None or a is None:
        return [f"node {node}: iw's dumps were not printed"]
    if b.rc != 0 or a.rc != 0:
        return [f"node {node}: iw failed: {b.text[:200]}"]
    try:
        doc = load_json(o)
        lst = getlist(doc) if getlist else our_list(kind, doc)
    except ValueError as e:  # json.JSONDecodeError is one
        return [f"node {node}: mesh-monitor {ours_tag}: {e}"]
    parse = IW_PARSERS[kind]
    t_ours0 = b.t0 if getlist else o.t0
    probs = compare_rows(kind, lst, parse(b.text), parse(a.text), b.t0, t_ours0, o.t1, a.t1,
                         f"mesh{node}")
    return [f"node {node}: {p}" for p in probs]


def strings_in(doc):
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield str(k)
            yield from strings_in(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from strings_in(v)
    elif isinstance(doc, str):
        yield doc.lower()


def iw_views(blocks, phase, suffix):
    """node 0's iw dumps of one read (suffix s1/s2): {kind: {key: row}}, or None"""
    out = {}
    for kind in ("station", "mpath", "mpp"):
        b = blocks.get((phase, 0, f"iw-{kind}-{suffix}"))
        if b is None or b.rc != 0:
            return None
        out[kind] = IW_PARSERS[kind](b.text)
    return out


def iw_edges(view):
    """The topology iw's dumps describe: {(kind, from, to): metric or None, plink state}"""
    e = {}
    for mac, st in view["station"].items():
        e[("link", "self", mac)] = (st.get("airtime_metric"), st.get("plink_state"))
    for dest, p in view["mpath"].items():
        # A path still being discovered (no next hop yet) is no edge in mesh-monitor's topology.
        if p["next_hop"] != "00:00:00:00:00:00":
            e[("path", dest, p["next_hop"])] = (p["metric"], None)
    for dest, x in view["mpp"].items():
        e[("proxy", dest, x["proxy"])] = (None, None)
    return e


def topology_check(blocks, phase, macs):
    """topology --json: node 0 as self, and exactly the links, paths and proxies of iw's dumps
    (the link metric and plink state, the path metric as iw said before or after)."""
    b, a = iw_views(blocks, phase, "s1"), iw_views(blocks, phase, "s2")
    if b is None or a is None:
        return ["iw's dumps were not printed"]
    try:
        doc = load_json(blocks.get((phase, 0, "mm-topology-json")))
        nodes, edges = doc["nodes"], doc["edges"]
    except (ValueError, KeyError, TypeError) as e:
        return [f"topology --json: {e!r}"]
    probs = []
    selfs = [n.get("id") for n in nodes if n.get("kind") == "self"]
    if selfs != [macs[0]]:
        probs.append(f"self nodes {selfs}, want [{macs[0]}]")
    ids = {n.get("id") for n in nodes}
    ours = {}
    for e in edges:
        frm = "self" if e.get("from") == macs[0] and e.get("kind") == "link" else e.get("from")
        ours[(e.get("kind"), frm, e.get("to"))] = (e.get("metric"), e.get("plink_state"))
        for end in (e.get("from"), e.get("to")):
            if end not in ids:
                probs.append(f"edge {e} names {end}, not a node")
        if e.get("iface") != "mesh0":
            probs.append(f"edge {e}: iface not mesh0")
    eb, ea = iw_edges(b), iw_edges(a)
    for k in sorted(set(eb) & set(ea)):
        if k not in ours:
            probs.append(f"{k[0]} {k[1]} -> {k[2]} (iw, before and after) missing")
    for k in sorted(ours):
        if k not in eb and k not in ea:
            probs.append(f"{k[0]} {k[1]} -> {k[2]} not in iw's dumps")
            continue
        want = [x for x in (eb.get(k), ea.get(k)) if x is not None]
        m, st = ours[k]
        if k[0] != "proxy" and not any(same(m, w[0]) for w in want):
            probs.append(f"{k[0]} {k[1]} -> {k[2]}: metric {m}, iw {[w[0] for w in want]}")
        if k[0] == "link" and not any(st == w[1] for w in want):
            probs.append(f"link -> {k[2]}: plink_state {st}, iw {[w[1] for w in want]}")
    return probs


def status_check(blocks, phase):
    o = blocks.get((phase, 0, "mm-status"))
    try:
        doc = load_json(o)
    except ValueError as e:
        return [f"status: {e}"]
    if not isinstance(doc, dict):
        return [f"status is not a JSON object: {str(doc)[:100]}"]
    probs = []
    for kind in ("station", "mpath", "mpp"):
        name = next((n for n in LIST_NAMES[kind] if isinstance(doc.get(n), list)), None)
        if name is None:
            probs.append(f"no list {LIST_NAMES[kind][0]!r} in status (keys {sorted(doc)})")
            continue
        probs += [f"status.{name}: {p}" for p in
                  dump_check(blocks, phase, 0, kind, "mm-status", f"iw-{kind}-s1", f"iw-{kind}-s2",
                             getlist=lambda d, n=name: d[n])]
    if not isinstance(doc.get("events"), list):
        probs.append(f"no list 'events' in status (keys {sorted(doc)})")
    return probs


def dot_check(blocks, phase, macs):
    """topology --dot: a digraph with an edge line for each link, path and proxy iw listed
    before and after."""
    o = blocks.get((phase, 0, "mm-topology-dot"))
    if o is None or o.rc != 0:
        return [f"topology --dot: {o.text[:200] if o else 'not printed'}"]
    t = o.text
    probs = []
    if not re.search(r"^\s*(strict\s+)?(di)?graph\b", t, re.M) or not t.rstrip().endswith("}"):
        probs.append(f"not a DOT graph: {t[:120]!r}")
    b, a = iw_views(blocks, phase, "s1"), iw_views(blocks, phase, "s2")
    if b is None or a is None:
        return probs + ["iw's dumps were not printed"]
    lines = re.findall(r'"([0-9a-f:]{17})"\s*-[->]\s*"([0-9a-f:]{17})"', t)
    for kind, frm, to in sorted(set(iw_edges(b)) & set(iw_edges(a))):
        frm = macs[0] if frm == "self" else frm
        if (frm, to) not in lines:
            probs.append(f"no edge {frm} -> {to} ({kind})")
    return probs


def text_check(blocks, phase, kind):
    """mesh-monitor's text table of node 0, read with the iw parser, against iw's dumps."""
    b, o, a = (blocks.get((phase, 0, t)) for t in (f"iw-{kind}-t1", f"mm-{kind}-text", f"iw-{kind}-t2"))
    if None in (b, o, a):
        return ["not printed"]
    if o.rc != 0:
        return [f"exit status {o.rc}: {o.text[:200]}"]
    parse = IW_PARSERS[kind]
    if kind != "station" and not o.text.startswith("DEST ADDR"):
        return [f"no iw header line: {o.text[:100]!r}"]
    rows = list(parse(o.text).values())
    probs = compare_rows(kind, rows, parse(b.text), parse(a.text), b.t0, o.t0, o.t1, a.t1, "mesh0")
    # only what a text row can carry: missing contract keys are not the text's business
    return [p for p in probs if "keys missing" not in p]


def parse_iw_params(text):
    """iw dev X get mesh_param: "name = value unit" lines -> {name: (value, line)}"""
    out = {}
    for line in text.splitlines():
        m = re.match(r"\s*(\w+) = (\S+)", line)
        if m:
            v = m.group(2)
            out[m.group(1)] = (int(v) if re.fullmatch(r"-?\d+", v) else v, line.strip())
    return out


def config_check(blocks, phase, text):
    """config --json (or the text form) of node 0 against iw's get mesh_param around it."""
    b, a = blocks.get((phase, 0, "iw-config-1")), blocks.get((phase, 0, "iw-config-2"))
    o = blocks.get((phase, 0, "mm-config-text" if text else "mm-config"))
    if None in (b, a, o):
        return ["not printed"]
    ib, ia = parse_iw_params(b.text), parse_iw_params(a.text)
    if not ib:
        return [f"iw printed no parameters: {b.text[:200]!r}"]
    probs = []
    if text:
        if o.rc != 0:
            return [f"exit status {o.rc}: {o.text[:200]}"]
        ours = {ln.strip() for ln in o.lines}
        for name in sorted(ib):
            if ib[name][1] not in ours and (name not in ia or ia[name][1] not in ours):
                probs.append(f"iw's line {ib[name][1]!r} not in ours")
        return probs
    try:
        doc = load_json(o)
    except ValueError as e:
        return [f"config --json: {e}"]
    objs = [d for d in (doc if isinstance(doc, list) else [doc]) if isinstance(d, dict)]
    obj = next((d for d in objs if d.get("iface") == "mesh0"), None)
    if obj is None:
        return [f"no object with iface mesh0: {str(doc)[:200]}"]
    for name in sorted(ib):
        vals = [ib[name][0]] + ([ia[name][0]] if name in ia else [])
        if name not in obj:
            probs.append(f"{name}: missing (iw: {vals[0]})")
        elif not any(same(obj[name], v) or str(obj[name]) == str(v) for v in vals):
            probs.append(f"{name}: {obj[name]!r}, iw {vals[0]!r}")
    return probs


def log_lines(blocks, phases_upto):
    out = []
    for ph in phases_upto:
        for tag in ("mmd-log", "syslog"):
            b = blocks.get((ph, 0, tag))
            if b:
                out += [(ph, line) for line in b.lines if line.strip()]
    return out


def main():
    blocks, lab, marks, phases = read_console(sys.argv[1])
    r = Report()
    macs = []
    for m in marks:
        if m.startswith("LAB-MACS "):
            macs = m.split()[1:4]
    lanmac = next((m.split()[1] for m in marks if m.startswith("LAB-LANMAC ") and len(m.split()) > 1), None)
    for m in marks:
        print(f"    {m}")

    # the lab itself: every phase reached, every iw-side check held
    want = ["created", "full", "line", "mpp", "silent", "expired", "recovered", "gate", "nogate",
            "left", "end"]
    if any(m.startswith("LAB-SKIP expired") for m in marks):
        want.remove("expired")
    r.check("lab: every phase reached", [f"phase {p} missing" for p in want if p not in phases])
    for verdict, phase, what in lab:
        r.check(f"lab {phase}: {what}", [] if verdict == "ok" else ["iw says otherwise"])
    r.check("lab: RESULT PASS", [] if any(m.startswith("LAB-RESULT PASS") for m in marks) else ["no LAB-RESULT PASS"])
    if len(macs) != 3:
        r.check("lab: radio MACs", ["no LAB-MACS line"])
        return r

    # mesh-monitor against iw, each phase
    binary = [m for m in marks if m.startswith("LAB-BINARY")]
    r.check("mesh-monitor is in the guest", [] if binary else ["no binary (BIN not given?)"])
    good, bad = blocks.get(("created", 0, "mm-check")), blocks.get(("created", 0, "mm-check-bad"))
    r.check("'check' accepts the test config",
            ["not run"] if good is None else [] if good.rc == 0 else [f"exit {good.rc}: {good.text[:200]}"])
    r.check("'check' refuses interval 'often'",
            ["not run"] if bad is None else [] if bad.rc not in (0, None) else [f"exit {bad.rc}: {bad.text[:200]}"])
    for phase in [p for p in want if p in phases]:
        for kind, cmd in (("station", "stations"), ("mpath", "mpath"), ("mpp", "mpp")):
            probs = []
            for node in (0, 1, 2):
                probs += dump_check(blocks, phase, node, kind, f"mm-{kind}", f"iw-{kind}-1", f"iw-{kind}-2")
            r.check(f"{phase}: '{cmd} --json' agrees with iw on nodes 0-2", probs)
        for kind, cmd in (("station", "stations"), ("mpath", "mpath"), ("mpp", "mpp")):
            r.check(f"{phase}: '{cmd}' text table of node 0 reads as iw's", text_check(blocks, phase, kind))
        if phase in ("full", "silent"):
            r.check(f"{phase}: 'config --json' agrees with iw's mesh_param values", config_check(blocks, phase, False))
            r.check(f"{phase}: 'config' text has iw's mesh_param lines", config_check(blocks, phase, True))
        r.check(f"{phase}: 'topology --json' has node 0's links, paths and proxies as iw", topology_check(blocks, phase, macs))
        r.check(f"{phase}: 'topology --dot' is a graph with an edge for each of them", dot_check(blocks, phase, macs))
        r.check(f"{phase}: 'status' stations/paths/proxies agree with iw, has events", status_check(blocks, phase))

    # what the contract promises beyond agreement: the line phase's 2-hop path, the mpp entry
    def our_rows(phase, kind):
        try:
            return our_list(kind, load_json(blocks.get((phase, 0, f"mm-{kind}"))))
        except ValueError:
            return []
    rows = our_rows("line", "mpath")
    two = [o for o in rows if isinstance(o, dict) and o.get("dest") == macs[2]]
    r.check("line: mpath --json has node 2 via node 1, hop_count 2",
            [] if two and two[0].get("next_hop") == macs[1] and two[0].get("hop_count") == 2
            else [f"node 0's path to {macs[2]}: {two}"])
    rows = our_rows("mpp", "mpp")
    r.check("mpp: mpp --json has the LAN host proxied by node 2",
            [] if any(isinstance(o, dict) and o.get("dest") == lanmac and o.get("proxy") == macs[2] for o in rows)
            else [f"LAN host {lanmac} via {macs[2]} not in {rows}"])

    # issue 14's idle cost: a second daemon with the shipped interval, left alone for 30 s
    idle = next((m for m in marks if m.startswith("LAB-IDLE ")), None)
    wakeups = int(idle.split("wakeups=")[1].split()[0]) if idle else None
    r.check(f"idle with the shipped 10 s interval: {wakeups} wake-ups in 30 s (at most 3)",
            [] if wakeups is not None and wakeups <= 3 else [f"{idle or 'no LAB-IDLE line'}"])

    # the daemon's events, in the log printed at the phase or later
    daemon = [m for m in marks if m.startswith("LAB-DAEMON")]
    r.check("daemon ran through every phase",
            [] if any("alive at end" in m for m in daemon) else [f"{daemon or 'never started'}"])
    code = next((m.split("exit=")[1].split()[0] for m in marks if m.startswith("LAB-DAEMON exit=")), None)
    r.check("daemon exits 0 on SIGTERM",
            [] if code == "0" and any("alive at end" in m for m in daemon) and
            not any("ignored SIGTERM" in m for m in daemon) else [f"{daemon}"])

    def event(name, phase, mac, words, other=None, since=None):
        """A log line in the phase's log or the next's (or from phase `since` on: the cause
        began there)."""
        idx = phases.index(phase) if phase in phases else None
        if idx is None:
            r.check(f"daemon event: {name}", [f"phase {phase} not reached"])
            return
        first = phases.index(since) if since in phases else idx
        nxt = phases[first:idx + 2]
        lines = log_lines(blocks, nxt)
        hit = [ln for ph, ln in lines if (mac is None or mac in ln.lower()) and re.search(words, ln, re.I)
               and (other is None or other in ln.lower())]
        r.check(f"daemon event: {name}",
                [] if hit else [f"no line{' with ' + mac if mac else ''}{' and ' + other if other else ''} matching /{words}/ "
                                f"in the log of {'/'.join(nxt)}"]
                + [f"{ph}: {ln}" for ph, ln in lines[-8:]])
        return
    UP = r"peer \S+ up"
    DOWN = r"peer \S+ down"
    event("peer up, node 1 (full)", "full", macs[1], UP)
    event("peer up, node 2 (full)", "full", macs[2], UP)
    event("node 2 now via node 1: next hop change (or a new path) (line)", "line", macs[2],
          rf"{macs[2]}(.*next hop \S+ -> | via ){macs[1]}", other=macs[1])
    if "expired" in phases:
        # housekeeping may drop it while the silent phase's hook still runs
        event("peer lost, silent node 1 (expired)", "expired", macs[1], DOWN, since="silent")
    event("peer up again, node 1 (recovered)", "recovered", macs[1], UP)
    event("gate reachable via node 1 (gate)", "gate", macs[1], r"gate")
    event("gate lost (nogate)", "nogate", None, r"(no|lost|not).*gate|gate.*(lost|gone)")
    event("node 1 leaves: plink state change or peer down (left)", "left", macs[1],
          r"plink|LISTEN|HOLDING|" + DOWN)

    # the same changes in status's recent events (asked while the daemon ran, in phase left)
    try:
        evs = load_json(blocks.get(("left", 0, "mm-status")))["events"]
        kinds = [(e.get("event"), e.get("peer") or e.get("dest"), e.get("next_hop")) for e in evs]
        seqs = [e.get("seq") for e in evs]
        probs = [] if seqs == sorted(seqs) and len(set(seqs)) == len(seqs) else [f"seq not increasing: {seqs}"]
        want = [("peer_up", macs[1], None), ("peer_up", macs[2], None),
                ("next_hop", macs[2], macs[1]), ("peer_down", macs[1], None)]
        if "expired" not in phases:
            want.pop()
        for w in want:
            if not any(k[0] == w[0] and k[1] == w[1] and (w[2] is None or k[2] == w[2]) for k in kinds):
                probs.append(f"no event {w[0]} {w[1]}{' -> ' + w[2] if w[2] else ''} in {kinds}")
    except (ValueError, KeyError, TypeError) as e:
        probs = [f"status (left): {e!r}"]
    r.check("status events: peers up, next hop via node 1, peer down", probs)
    for phase, want_gate in (("gate", True), ("nogate", False)):
        try:
            ifs = load_json(blocks.get((phase, 0, "mm-status")))["interfaces"]
            got = [i.get("gate_reachable") for i in ifs if i.get("name") == "mesh0"]
            probs = [] if got == [want_gate] else [f"interfaces[mesh0].gate_reachable {got}"]
        except (ValueError, KeyError, TypeError) as e:
            probs = [f"status ({phase}): {e!r}"]
        r.check(f"{phase}: status says gate_reachable {str(want_gate).lower()} on mesh0", probs)
    return r


if __name__ == "__main__":
    rep = main()
    print(f"    {rep.count} checks, {rep.failed} failed")
    sys.exit(1 if rep.failed else 0)
