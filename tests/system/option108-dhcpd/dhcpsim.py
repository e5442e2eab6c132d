#!/usr/bin/env python3
"""A DHCPv4 client simulator for option108-dhcpd's system tests and benchmark.

Speaks from UDP port 68 bound to one device, always with the broadcast flag, so replies come
back as broadcasts without the client having an address. Many clients (unique MACs) can be
in flight at once; replies are matched by xid.

  dora      --iface I --count N [--base B] [--window W] [--prl 1,3,6] [--timeout S] [--pace S]
            full DISCOVER/OFFER/REQUEST/ACK per client; prints "ACK mac ip" per lease and a
            summary line "done acked=N failed=N seconds=S rate=R"
  discover  --iface I --mac M [--prl ...]   one DISCOVER; prints the OFFER's yiaddr and options
  reboot    --iface I --pairs FILE          INIT-REBOOT REQUEST for each "ACK mac ip" line;
                                            prints "ACK mac ip" or "NAK mac ip" or "NONE mac ip"
  request   --iface I --mac M --requested A [--server S] [--prl ...]   one REQUEST: SELECTING
            with --server (its server identifier), else INIT-REBOOT; prints the reply as discover
  relay     --iface I --giaddr G --server S --mac M   a relayed DISCOVER; prints the OFFER
  inform    --iface I --ciaddr A --mac M [--prl ...]  a DHCPINFORM; prints the ACK
  decline   --iface I --mac M                           a lease, then DHCPDECLINE of it
  malformed --iface I                       sends broken messages (and nothing else)
  flood     --iface I --count N             DISCOVERs from random MACs, no waiting
"""
import argparse, os, random, select, socket, struct, sys, time

MAGIC = b"\x63\x82\x53\x63"
SO_BINDTODEVICE = 25


def sock(iface):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    s.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, iface.encode())
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(("0.0.0.0", 68))
    s.setblocking(False)
    return s


def mac_of(i):
    return bytes([0x02, 0x08, (i >> 24) & 0xFF, (i >> 16) & 0xFF, (i >> 8) & 0xFF, i & 0xFF])


def mac_text(m):
    return ":".join("%02x" % b for b in m)


def message(kind, mac, xid, options=b"", ciaddr=b"\0" * 4, flags=0x8000, op=1):
    head = struct.pack("!BBBBIHH", op, 1, 6, 0, xid, 0, flags) + ciaddr + b"\0" * 12
    head += mac + b"\0" * 10 + b"\0" * 192
    return head + MAGIC + bytes([53, 1, kind]) + options + b"\xff"


def opt(code, value):
    return bytes([code, len(value)]) + value


def parse(data):
    if len(data) < 240 or data[236:240] != MAGIC or data[0] != 2:
        return None
    xid = struct.unpack("!I", data[4:8])[0]
    yiaddr = socket.inet_ntoa(data[16:20])
    options, i = {}, 240
    while i < len(data):
        c = data[i]
        if c == 0:
            i += 1
            continue
        if c == 255 or i + 1 >= len(data):
            break
        n = data[i + 1]
        options[c] = options.get(c, b"") + data[i + 2:i + 2 + n]
        i += 2 + n
    return xid, yiaddr, options


def send(s, data):
    while True:
        try:
            s.sendto(data, ("255.255.255.255", 67))
            return
        except BlockingIOError:
            select.select([], [s], [], 0.05)


def dora(a):
    s = sock(a.iface)
    prl = opt(55, bytes(int(x) for x in a.prl.split(",")))
    pending = {}  # xid -> [mac, state, sent_at, tries, offered]
    todo = list(range(a.base, a.base + a.count))
    acked = failed = 0
    start = time.time()
    deadline = start + a.timeout
    next_start = start
    out = sys.stdout
    while (todo or pending) and time.time() < deadline:
        while todo and len(pending) < a.window:
            if a.pace and time.time() < next_start:
                break
            next_start = time.time() + a.pace
            i = todo.pop(0)
            xid = random.getrandbits(32)
            mac = mac_of(i)
            pending[xid] = [mac, "discover", time.time(), 0, None]
            send(s, message(1, mac, xid, prl))
        r, _, _ = select.select([s], [], [], 0.05)
        if r:
            for _ in range(256):
                try:
                    data = s.recv(2048)
                except BlockingIOError:
                    break
                p = parse(data)
                if not p or p[0] not in pending:
                    continue
                xid, yiaddr, options = p
                entry = pending[xid]
                kind = options.get(53, b"\0")[0]
                if kind == 2 and entry[1] == "discover":
                    entry[1], entry[2], entry[4] = "request", time.time(), (yiaddr, options.get(54, b""))
                    send(s, message(3, entry[0], xid, prl + opt(50, socket.inet_aton(yiaddr)) + opt(54, options.get(54, b""))))
                elif kind == 5 and entry[1] == "request":
                    out.write("ACK %s %s\n" % (mac_text(entry[0]), yiaddr))
                    out.flush()
                    acked += 1
                    del pending[xid]
                elif kind == 6:
                    out.write("NAK %s\n" % mac_text(entry[0]))
                    failed += 1
                    del pending[xid]
        now = time.time()
        for xid, entry in list(pending.items()):
            if now - entry[2] > a.retry:
                entry[3] += 1
                if entry[3] > a.tries:
                    failed += 1
                    out.write("LOST %s\n" % mac_text(entry[0]))
                    del pending[xid]
                    continue
                entry[2] = now
                if entry[1] == "discover":
                    send(s, message(1, entry[0], xid, prl))
                else:
                    send(s, message(3, entry[0], xid, prl + opt(50, socket.inet_aton(entry[4][0])) + opt(54, entry[4][1])))
    failed += len(pending) + len(todo)
    seconds = time.time() - start
    out.write("done acked=%d failed=%d seconds=%.3f rate=%.1f\n" % (acked, failed, seconds, acked / seconds if seconds else 0))


def wait_reply(s, xid, timeout):
    end = time.time() + timeout
    while time.time() < end:
        r, _, _ = select.select([s], [], [], 0.05)
        if not r:
            continue
        try:
            data = s.recv(2048)
        except BlockingIOError:
            continue
        p = parse(data)
        if p and p[0] == xid:
            return p
    return None


def ask(a, kind, options, **fields):
    """One message of `kind` from --mac with --prl and `options`; prints the reply's type,
    yiaddr and options, or NONE."""
    s = sock(a.iface)
    xid = random.getrandbits(32)
    mac = bytes(int(x, 16) for x in a.mac.split(":"))
    prl = bytes(int(x) for x in a.prl.split(","))
    send(s, message(kind, mac, xid, opt(55, prl) + options, **fields))
    p = wait_reply(s, xid, a.timeout)
    if not p:
        print("NONE")
        return
    _, yiaddr, options = p
    print("type=%d yiaddr=%s" % (options[53][0], yiaddr))
    for code in sorted(options):
        print("option %d %s" % (code, options[code].hex()))


def discover(a):
    ask(a, 1, opt(80, b"") if a.rapid_commit else b"")


def request(a):
    options = opt(50, socket.inet_aton(a.requested))
    if a.server:
        options += opt(54, socket.inet_aton(a.server))
    ask(a, 3, options)


def reboot(a):
    s = sock(a.iface)
    for line in open(a.pairs):
        w = line.split()
        if len(w) != 3 or w[0] != "ACK":
            continue
        mac = bytes(int(x, 16) for x in w[1].split(":"))
        xid = random.getrandbits(32)
        got = None
        for _ in range(3):
            send(s, message(3, mac, xid, opt(50, socket.inet_aton(w[2])) + opt(55, bytes([1, 3]))))
            got = wait_reply(s, xid, 0.5)
            if got:
                break
        if not got:
            print("NONE %s %s" % (w[1], w[2]))
        elif got[2][53][0] == 5 and got[1] == w[2]:
            print("ACK %s %s" % (w[1], got[1]))
        else:
            print("NAK %s %s" % (w[1], w[2]))


def relay(a):
    """Acts as a relay agent at --giaddr: a DISCOVER with giaddr set, unicast to the server's
    port 67 from port 67; the OFFER must come back to the relay."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, a.iface.encode())
    s.bind((a.giaddr, 67))
    xid = random.getrandbits(32)
    mac = bytes(int(x, 16) for x in a.mac.split(":"))
    m = bytearray(message(1, mac, xid, opt(55, bytes([1, 3])), flags=0))
    m[3] = 1  # hops
    m[24:28] = socket.inet_aton(a.giaddr)
    s.sendto(bytes(m), (a.server, 67))
    s.setblocking(False)
    p = wait_reply(s, xid, a.timeout)
    if not p:
        print("NONE")
        return
    print("type=%d yiaddr=%s" % (p[2][53][0], p[1]))


def inform(a):
    """DHCPINFORM from a client configured with --ciaddr; the ACK comes unicast to it."""
    ask(a, 8, b"", ciaddr=socket.inet_aton(a.ciaddr), flags=0)


def decline(a):
    """DORA for --mac, then DHCPDECLINE of the address; prints the declined address."""
    s = sock(a.iface)
    mac = bytes(int(x, 16) for x in a.mac.split(":"))
    xid = random.getrandbits(32)
    send(s, message(1, mac, xid, opt(55, bytes([1]))))
    p = wait_reply(s, xid, a.timeout)
    if not p:
        print("NONE")
        return
    server = p[2][54]
    send(s, message(3, mac, xid, opt(50, socket.inet_aton(p[1])) + opt(54, server)))
    q = wait_reply(s, xid, a.timeout)
    if not q or q[2][53][0] != 5:
        print("NONE")
        return
    send(s, message(4, mac, random.getrandbits(32), opt(50, socket.inet_aton(q[1])) + opt(54, server)))
    print("DECLINED %s" % q[1])


def malformed(a):
    s = sock(a.iface)
    good = message(1, mac_of(999999), 1)
    cases = [
        good[:100],  # truncated header
        good[:-1] + bytes([12, 200, 0x41]),  # option length past the end
        good[:-1] + bytes([50, 3, 1, 2, 3, 255]),  # requested IP of 3 octets
        good + b"\0" * 2000,  # overlong
        message(1, mac_of(999998), 2, op=2),  # a BOOTREPLY
        good[:236] + b"XXXX" + good[240:],  # bad magic
    ]
    for c in cases:
        send(s, c)
        time.sleep(0.01)
    print("sent %d" % len(cases))


def flood(a):
    s = sock(a.iface)
    prl = bytes(int(c) for c in a.prl.split(","))
    for i in range(a.count):
        mac = bytes([0x02]) + os.urandom(5)
        send(s, message(1, mac, random.getrandbits(32), opt(55, prl)))
        if i % 200 == 199:
            time.sleep(0.01)
            try:
                while s.recv(2048):
                    pass
            except BlockingIOError:
                pass
    print("sent %d" % a.count)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("command")
    ap.add_argument("--iface", required=True)
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--base", type=int, default=1)
    ap.add_argument("--window", type=int, default=64)
    ap.add_argument("--prl", default="1,3,6,15")
    ap.add_argument("--timeout", type=float, default=10)
    ap.add_argument("--retry", type=float, default=1.0)
    ap.add_argument("--tries", type=int, default=3)
    ap.add_argument("--pace", type=float, default=0, help="seconds between two new clients")
    ap.add_argument("--mac", default="02:08:00:00:00:01")
    ap.add_argument("--pairs")
    ap.add_argument("--giaddr")
    ap.add_argument("--ciaddr")
    ap.add_argument("--server")
    ap.add_argument("--requested")
    ap.add_argument("--rapid-commit", action="store_true")
    a = ap.parse_args()
    {"dora": dora, "discover": discover, "reboot": reboot, "request": request, "malformed": malformed, "relay": relay, "inform": inform, "decline": decline, "flood": flood}[a.command](a)


if __name__ == "__main__":
    main()
