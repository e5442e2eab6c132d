"""tcp_server.py ADDR PORT REPLY_BYTES: for each connection, reads a line and answers with
REPLY_BYTES bytes of a known pattern, then closes."""
import socket, sys

addr, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
family = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(family, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(16)
payload = bytes((i * 13 + 5) & 0xFF for i in range(size))
while True:
    c, _ = s.accept()
    try:
        c.settimeout(5)
        c.recv(100)
        c.sendall(payload)
    except OSError:
        pass
    c.close()
