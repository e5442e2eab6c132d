"""udp_client.py ADDR PORT SIZE [TRIES] [SPORT]: sends SIZE bytes, expects them echoed back.
Retries (PMTU discovery may eat the first datagram). Prints 'ok SIZE after N', 'refused ERRNO' or 'lost'."""
import socket, sys

addr, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
tries = int(sys.argv[4]) if len(sys.argv) > 4 else 3
family = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(family, socket.SOCK_DGRAM)
if len(sys.argv) > 5:
    s.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", int(sys.argv[5])))
s.settimeout(1.0)
# Connected and IPV6_RECVERR, so that every ICMP error about the flow is reported (without
# RECVERR Linux ignores non-fatal ones such as Address Unreachable).
if family == socket.AF_INET6:
    s.setsockopt(socket.IPPROTO_IPV6, getattr(socket, "IPV6_RECVERR", 25), 1)
s.connect((addr, port))
payload = bytes((i * 7 + 3) & 0xFF for i in range(size))
for attempt in range(1, tries + 1):
    try:
        s.send(payload)
    except OSError as e:  # EMSGSIZE once the PMTU is known: the kernel fragments next time
        print("send error", e, file=sys.stderr)
        continue
    try:
        data = s.recv(65535)
    except socket.timeout:
        continue
    except OSError as e:  # an ICMP error came back
        if e.errno == 90:  # EMSGSIZE: Packet Too Big, the path MTU is known now
            continue
        print("refused", e.errno)  # e.g. the translator refused the flow
        sys.exit(1)
    if data == payload:
        print("ok", size, "after", attempt)
        sys.exit(0)
    print("corrupt", len(data))
    sys.exit(1)
print("lost")
sys.exit(1)
