"""tcp_client.py ADDR PORT EXPECTED_BYTES: connects, sends a line, checks the reply."""
import socket, sys

addr, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
family = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.create_connection((addr, port), timeout=5)
s.sendall(b"hello\n")
got = bytearray()
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    got += chunk
expected = bytes((i * 13 + 5) & 0xFF for i in range(size))
print("ok" if bytes(got) == expected else "mismatch %d" % len(got))
sys.exit(0 if bytes(got) == expected else 1)
