"""Writes seed inputs for the translate target: mode byte, then length-prefixed packets
(a UDP flow out and back, ICMP echo both ways, an ICMPv4 error quoting the flow), and the
same kinds of flows from the packets Linux sent in tests/fixtures/kernel.txt."""
import ipaddress, os, struct

def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF

def v4hdr(src, dst, proto, payload, flags=0x4000, ttl=64):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, flags, ttl, proto, 0, src, dst)
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload

def v6pkt(src, dst, nh, payload, hl=64):
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload), nh, hl, src, dst) + payload

def l4(src, dst, proto, body, v6):
    pseudo = (src + dst + struct.pack("!IxxxB", len(body), proto)) if v6 else (src + dst + struct.pack("!xBH", proto, len(body)))
    at = {6: 16, 17: 6}.get(proto, 2)
    if proto == 1:
        pseudo = b""
    c = csum(pseudo + body)
    return body[:at] + struct.pack("!H", c) + body[at + 2:]

A = lambda s: ipaddress.ip_address(s).packed
host, server6, pool, server = A("2001:db8:1::2"), A("2001:db8:64::192.0.2.2"), A("198.51.100.0"), A("192.0.2.2")
udp_out = v6pkt(host, server6, 17, l4(host, server6, 17, struct.pack("!HHHH", 1024, 53, 13, 0) + b"hello", True))
udp_back = v4hdr(server, pool, 17, l4(server, pool, 17, struct.pack("!HHHH", 53, 1024, 13, 0) + b"world", False))
echo_out = v6pkt(host, server6, 58, l4(host, server6, 58, struct.pack("!BBHHH", 128, 0, 0, 7, 1) + b"ping", True))
echo_back = v4hdr(server, pool, 1, l4(server, pool, 1, struct.pack("!BBHHH", 0, 0, 0, 7, 1) + b"ping", False))
error = v4hdr(server, pool, 1, l4(server, pool, 1, struct.pack("!BBHI", 3, 3, 0, 0) + udp_back, False))
tcp_syn = v6pkt(host, server6, 6, l4(host, server6, 6, struct.pack("!HHIIBBHHH", 40000, 80, 1, 0, 0x50, 2, 65535, 0, 0), True))
frag = v6pkt(host, server6, 44, struct.pack("!BBHI", 17, 0, 1, 99) + udp_out[40:])
here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "translate")
os.makedirs(here, exist_ok=True)
for name, mode, packets in [("udp", 2, [udp_out, udp_back, error]), ("echo", 3, [echo_out, echo_back]), ("tcp", 0, [tcp_syn, frag])]:
    with open(os.path.join(here, name), "wb") as f:
        f.write(bytes([mode]) + b"".join(struct.pack("!H", len(p)) + p for p in packets))

# Packets Linux sent (same addresses), in the order tests/fixtures.rs feeds them.
kernel = {}
with open(os.path.join(here, "..", "..", "..", "tests", "fixtures", "kernel.txt")) as f:
    for line in f:
        if not line.startswith("#"):
            name, data = line.split()
            kernel[name] = bytes.fromhex(data)
for name, names in [
    ("kernel-udp", ["udp6_query", "udp4_answer", "icmp4_unreachable", "icmp6_unreachable"]),
    ("kernel-echo", ["echo6_request", "echo4_reply", "echo6_fragments.0", "echo6_fragments.1",
                     "echo4_reply_fragments.0", "echo4_reply_fragments.1"]),
    ("kernel-tcp", ["tcp6_syn"]),
]:
    with open(os.path.join(here, name), "wb") as f:
        f.write(bytes([2]) + b"".join(struct.pack("!H", len(kernel[n])) + kernel[n] for n in names))
