#!/usr/bin/env python3
"""Each init script validates exactly the options its daemon accepts.

    python3 tests/packages/test_init_options.py        (or -m unittest ... -v)

The init scripts (feed/<pkg>/files/<pkg>.init) list a section's options for uci_load_validate as
'name:datatype[:default]'. The daemons list what they accept in their config parser. Two ways
to compare them:

- From the source, both directions: the validated names against the daemon's list (a `const`
  array of names, where the parser warns on unknown options with it; otherwise the options
  its loop over `sections("<type>")` reads with get/get_or/get_range/require/list/raw/entry).
- With the real binary, for the daemons whose `check` warns on unknown options: a config with
  every validated option set (to its default in the init script, or to a sample value of its
  datatype) must pass `<daemon> -c FILE check` with no "unknown option" warning, while an
  option added on purpose must be warned about (so the warning is known to reach stderr).

Every uci_load_validate of every init script must be covered by SECTIONS below, and every
entry of SECTIONS must be found: a new section type or a new daemon fails until added here.

Environment: FEED_DIR (default <repo>/feed), BIN_DIR (the daemons to run; default
<repo>/target/xc/dist/x86_64-unknown-linux-musl, as `make -f Makefile.openwrt` leaves them).
A missing binary is a failure, as in test_feed.py.
"""

import os
import re
import subprocess
import tempfile
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FEED_DIR = os.environ.get("FEED_DIR", os.path.join(REPO, "feed"))
BIN_DIR = os.environ.get(
    "BIN_DIR", os.path.join(REPO, "target", "xc", "dist", "x86_64-unknown-linux-musl"))

# (package, UCI config, section type) -> where the daemon says what it accepts:
#   ("const", file, NAME): a const array of option names the parser checks unknown options with;
#   ("reads", file, TYPE): the options read in the file's loops over sections("TYPE").
# The last field: the section is written into the config that `check` gets (for daemons that
# warn on unknown options), with this section name (None: anonymous).
SECTIONS = {
    ("dns64", "dns64", "dns64"): (("const", "packages/dns64/src/config.rs", "KNOWN"), "main"),
    ("fw-helper", "fw-helper", "fw-helper"):
        (("const", "packages/fw-helper/src/config.rs", "GLOBAL_OPTS"), "main"),
    ("mesh-monitor", "mesh-monitor", "mesh-monitor"):
        (("const", "packages/mesh-monitor/src/config.rs", "KNOWN"), "main"),
    ("nat64", "nat64", "nat64"):
        (("const", "packages/nat64/src/config.rs", "MAIN_OPTIONS"), "main"),
    ("nat64", "nat64", "static"):
        (("const", "packages/nat64/src/config.rs", "STATIC_OPTIONS"), None),
    # option108-dhcpd warns on no unknown option (the dhcp file is odhcpd's and dnsmasq's too):
    # the source comparison only.
    ("option108-dhcpd", "option108-dhcpd", "option108_dhcpd"):
        (("reads", "packages/option108-dhcpd/src/config.rs", "option108_dhcpd"), False),
    ("option108-dhcpd", "dhcp", "dhcp"):
        (("reads", "packages/option108-dhcpd/src/config.rs", "dhcp"), False),
    ("option108-dhcpd", "dhcp", "host"):
        (("reads", "packages/option108-dhcpd/src/config.rs", "host"), False),
    ("ripng", "ripng", "ripng"): (("const", "packages/ripng/src/config.rs", "MAIN_OPTIONS"), "main"),
    ("ripng", "ripng", "interface"):
        (("const", "packages/ripng/src/config.rs", "INTERFACE_OPTIONS"), None),
    ("ripng", "ripng", "redistribute"):
        (("const", "packages/ripng/src/config.rs", "REDISTRIBUTE_OPTIONS"), None),
    ("ripng", "ripng", "filter"):
        (("const", "packages/ripng/src/config.rs", "FILTER_OPTIONS"), None),
}

# Options a section takes one or the other of, never both: `check` gets the section twice,
# the first without the second option, the second without the first.
ONE_OF = {
    ("ripng", "ripng", "interface"): ("device", "interface"),
    ("ripng", "ripng", "filter"): ("device", "interface"),
}

# Options the init script reads itself (as $name after uci_load_validate), which the daemon
# does not: allowed in the validation list of a "reads" section, if the script uses them.
INIT_ONLY = {
    ("option108-dhcpd", "option108-dhcpd", "option108_dhcpd"): {"enabled"},
}

# Values for `check` where the init script gives no default and the datatype alone says too
# little (pool4 is list(string), but must be an IPv4 pool).
SAMPLES = {
    ("nat64", "pool4"): "192.0.2.0/30",
    ("nat64", "prefix"): "64:ff9b::/96",
    ("nat64", "ipv6"): "2001:db8::10",
    ("nat64", "port6"): "80",
    ("nat64", "ipv4"): "192.0.2.1",
    ("nat64", "port4"): "8080",
    ("dns64", "upstream"): "192.0.2.53",
    ("dns64", "listen"): "::1",
    ("dns64", "prefix"): "64:ff9b::/96",
    ("dns64", "exclude"): "2001:db8::/32",
    ("dns64", "port"): "5353",
    ("mesh-monitor", "interface"): "mesh0",
    ("mesh-monitor", "prometheus_file"): "/tmp/mesh-monitor.prom",
    ("mesh-monitor", "topology_file"): "/tmp/mesh-topology.json",
    ("ripng", "device"): "eth1",
    ("ripng", "interface"): "lan",
    ("ripng", "source"): "connected",
    ("ripng", "direction"): "in",
    ("ripng", "action"): "accept",
    # A filter's lengths run from its prefix's (the cidr6 sample's /64) to 128.
    ("ripng", "min_length"): "64",
    ("ripng", "max_length"): "128",
}
# By datatype, for the rest (a list takes one item of its element type).
DATATYPE_SAMPLES = {
    "bool": "1", "port": "53", "cidr6": "2001:db8::/64", "ipaddr": "::1", "ip6addr": "::1",
    "ip4addr": "192.0.2.1", "uinteger": "1",
}


def split_entry(entry):
    """'name:datatype[:default]' -> (name, datatype, default or None); colons inside the
    datatype's parentheses or quotes do not split."""
    fields, depth, quoted, cur = [], 0, False, ""
    for ch in entry:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        if ch == ":" and depth == 0 and not quoted and len(fields) < 2:
            fields.append(cur)
            cur = ""
        else:
            cur += ch
    fields.append(cur)
    name, datatype = fields[0], fields[1] if len(fields) > 1 else ""
    return name, datatype, fields[2] if len(fields) > 2 else None


def init_validations(path):
    """Every `uci_load_validate CONFIG TYPE ... 'entry' ...` of an init script (continued
    over backslash-newlines), as {(config, type): [(name, datatype, default), ...]}."""
    with open(path) as f:
        text = f.read()
    text = re.sub(r"\\\n", " ", text)
    found = {}
    for line in text.splitlines():
        m = re.match(r"\s*uci_load_validate\s+(\S+)\s+(\S+)\s+(.*)$", line)
        if not m:
            continue
        key = (m.group(1), m.group(2))
        if key in found:
            raise AssertionError(f"{path}: two uci_load_validate for {key[0]}.{key[1]}")
        found[key] = [split_entry(e) for e in re.findall(r"'([^']*)'", m.group(3))]
    return found


def blank_strings(text):
    """text with the contents of Rust string literals and comments replaced by spaces (same
    length), so that braces are counted in code only."""
    out, i, n = list(text), 0, len(text)
    while i < n:
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out[i:j] = " " * (j - i)
            i = j
        elif text[i] == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out[i + 1:j] = " " * (j - i - 1)
            i = j + 1
        elif text[i] == "'" and i + 2 < n and text[i + 2] == "'":
            out[i + 1] = " "  # a char literal such as '{'
            i += 3
        else:
            i += 1
    return "".join(out)


def const_names(path, name):
    """The string literals of `const NAME: ... = [ ... ];` (comments dropped)."""
    with open(path) as f:
        text = f.read()
    m = re.search(r"\bconst\s+" + re.escape(name) + r"\s*:[^=]*=\s*&?\[(.*?)\];", text, re.S)
    if not m:
        raise AssertionError(f"{path}: no const {name} = [...]")
    body = re.sub(r"//[^\n]*", "", m.group(1))
    return re.findall(r'"([^"]*)"', body)


ACCESSOR = re.compile(
    r"\b{var}\s*\.\s*(?:get|get_or|get_range|require|list|raw|entry)\s*"
    r"(?:::\s*<[^()]*?>\s*)?\(\s*\"([A-Za-z0-9_]+)\"")
HELPER = re.compile(r"\b[a-z_][a-z0-9_]*\s*(?:::\s*<[^()]*?>\s*)?\(\s*&{var}\s*,\s*\"([A-Za-z0-9_]+)\"")


def read_names(path, section_type):
    """The options read in every `for VAR in ....sections("TYPE") { ... }` loop of a file:
    VAR.get("x"), VAR.get_or("x", ..), VAR.list::<T>("x"), VAR.raw("x"), helper(&VAR, "x"),
    errors.get::<T>(&VAR, "x") (common::daemon::Errors)."""
    with open(path) as f:
        text = f.read()
    code = blank_strings(text)
    loop = re.compile(r"\bfor\s+(\w+)\s+in\s+[^{;]*\.sections\(\s*\"" + re.escape(section_type)
                      + r"\"\s*\)[^{;]*\{")
    names, loops = set(), 0
    for m in loop.finditer(text):
        loops += 1
        var, depth, i = m.group(1), 1, m.end()
        while depth and i < len(code):
            depth += {"{": 1, "}": -1}.get(code[i], 0)
            i += 1
        body = text[m.end():i]
        for pattern in (ACCESSOR, HELPER):
            names.update(re.findall(pattern.pattern.format(var=re.escape(var)), body))
    if not loops:
        raise AssertionError(f"{path}: no loop over sections(\"{section_type}\")")
    return names


def all_validations():
    """{(package, config, type): (init path, entries)} over feed/*/files/*.init."""
    out = {}
    for pkg in sorted(os.listdir(FEED_DIR)):
        files = os.path.join(FEED_DIR, pkg, "files")
        if not os.path.isdir(files):
            continue
        for name in sorted(os.listdir(files)):
            if name.endswith(".init"):
                path = os.path.join(files, name)
                for (config, stype), entries in init_validations(path).items():
                    out[(pkg, config, stype)] = (path, entries)
    return out


def daemon_names(how):
    kind, rel, what = how
    path = os.path.join(REPO, rel)
    return set(const_names(path, what) if kind == "const" else read_names(path, what)), \
        f"{rel} ({'const ' + what if kind == 'const' else 'reads of sections(' + repr(what) + ')'})"


def sample(pkg, name, datatype, default):
    if default is not None:
        return default
    if (pkg, name) in SAMPLES:
        return SAMPLES[(pkg, name)]
    base = re.sub(r"^list\((.*)\)$", r"\1", datatype)
    if base in DATATYPE_SAMPLES:
        return DATATYPE_SAMPLES[base]
    m = re.match(r"range\((\d+),", base)
    if m:
        return m.group(1)
    return None


class InitOptions(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.validations = all_validations()

    def rel(self, path):
        return os.path.relpath(path, REPO)

    def test_every_validation_is_covered(self):
        missing = sorted(set(self.validations) - set(SECTIONS))
        gone = sorted(set(SECTIONS) - set(self.validations))
        self.assertFalse(missing, "uci_load_validate with no daemon option list in "
                         f"test_init_options.py SECTIONS: {missing}")
        self.assertFalse(gone, f"SECTIONS entries no init script validates: {gone}")

    def test_source_lists_match(self):
        problems = []
        for key in sorted(SECTIONS):
            if key not in self.validations:
                continue
            pkg, config, stype = key
            path, entries = self.validations[key]
            validated = [e[0] for e in entries]
            dupes = sorted({n for n in validated if validated.count(n) > 1})
            for n in dupes:
                problems.append(f"{self.rel(path)}: {config}.{stype} option '{n}' validated twice")
            accepted, where = daemon_names(SECTIONS[key][0])
            with open(path) as f:
                script = f.read()
            for n in sorted(INIT_ONLY.get(key, ())):
                if re.search(r"\$\{?" + n + r"\b", script):
                    accepted.add(n)
                else:
                    problems.append(f"{self.rel(path)}: {config}.{stype} option '{n}' is in "
                                    f"INIT_ONLY, but the init script never reads ${n}")
            for n in sorted(set(validated) - accepted):
                problems.append(f"{self.rel(path)}: {config}.{stype} option '{n}' is validated, "
                                f"but {pkg} does not accept it ({where})")
            for n in sorted(accepted - set(validated)):
                problems.append(f"{self.rel(path)}: {config}.{stype} option '{n}' is accepted by "
                                f"{pkg} ({where}), but the init script does not validate it")
        if problems:
            self.fail("\n" + "\n".join(problems))

    def test_check_accepts_every_validated_option(self):
        by_pkg = {}
        for key, (_, section_name) in SECTIONS.items():
            if section_name is not False and key in self.validations:
                by_pkg.setdefault(key[0], []).append(key)
        self.assertTrue(by_pkg)
        for pkg, keys in sorted(by_pkg.items()):
            with self.subTest(pkg=pkg):
                self.check_one(pkg, sorted(keys))

    def check_one(self, pkg, keys):
        binary = os.path.join(BIN_DIR, pkg)
        self.assertTrue(os.access(binary, os.X_OK), f"{binary} missing (build first, or BIN_DIR)")
        with tempfile.TemporaryDirectory() as tmp:
            lines, bogus = [], "v6only_test_not_an_option"
            for key in keys:
                _, config, stype = key
                path, entries = self.validations[key]
                name = SECTIONS[key][1]
                # Sections to write, each with the options it leaves out.
                variants = [()]
                if key in ONE_OF:
                    first, second = ONE_OF[key]
                    variants = [(second,), (first,)]
                for n, left_out in enumerate(variants):
                    label = f" '{name}'" if name and n == 0 else ""
                    lines.append(f"config {stype}{label}")
                    for opt, datatype, default in entries:
                        if opt in left_out:
                            continue
                        if opt == "control_socket":
                            value = os.path.join(tmp, f"{pkg}.sock")
                        elif opt == "resolv_file":
                            value = os.path.join(tmp, "resolv.conf")
                            with open(value, "w") as f:
                                f.write("nameserver 192.0.2.53\n")
                        else:
                            value = sample(pkg, opt, datatype, default)
                        self.assertIsNotNone(value, f"{self.rel(path)}: no sample value for "
                                             f"{config}.{stype}.{opt} ({datatype}): add it to "
                                             "SAMPLES")
                        kw = "list" if datatype.startswith("list(") else "option"
                        lines.append(f"\t{kw} {opt} '{value}'")
                    if n == 0:
                        lines.append(f"\toption {bogus} '1'")
                    lines.append("")
            cfg = os.path.join(tmp, pkg)
            with open(cfg, "w") as f:
                f.write("\n".join(lines))
            r = subprocess.run([binary, "-c", cfg, "check"], capture_output=True, text=True,
                               timeout=60)
            out = r.stdout + r.stderr
            shown = (f"\n--- {cfg}:\n" + "\n".join(lines)
                     + f"\n--- {pkg} check (exit {r.returncode}):\n{out}")
            self.assertEqual(r.returncode, 0,
                             f"{pkg} check refuses the init script's options{shown}")
            unknown = [ln for ln in out.splitlines() if "unknown option" in ln]
            warned_bogus = [ln for ln in unknown if bogus in ln]
            self.assertEqual(len(warned_bogus), len(keys),
                             f"{pkg} check did not warn about the made-up option in each "
                             f"section, so its silence proves nothing{shown}")
            rest = [ln for ln in unknown if bogus not in ln]
            if rest:
                self.fail(f"{pkg} check calls validated options unknown:\n" + "\n".join(rest)
                          + shown)


if __name__ == "__main__":
    unittest.main(verbosity=2)
