"""udp_client.py ADDR PORT SIZE [TRIES] [SPORT]: sends SIZE bytes, expects them echoed back.
Retries (PMTU discovery may eat the first datagram). Prints 'ok SIZE after N' or 'lost'."""
import socket, sys

addr, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
tries = int(sys.argv[4]) if len(sys.argv) > 4 else 3
family = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(family, socket.SOCK_DGRAM)
if len(sys.argv) > 5:
    s.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", int(sys.argv[5])))
s.settimeout(1.0)
payload = bytes((i * 7 + 3) & 0xFF for i in range(size))
for attempt in range(1, tries + 1):
    try:
        s.sendto(payload, (addr, port))
    except OSError as e:  # EMSGSIZE once the PMTU is known: the kernel fragments next time
        print("send error", e, file=sys.stderr)
        continue
    try:
        data, _ = s.recvfrom(65535)
    except socket.timeout:
        continue
    if data == payload:
        print("ok", size, "after", attempt)
        sys.exit(0)
    print("corrupt", len(data))
    sys.exit(1)
print("lost")
sys.exit(1)
