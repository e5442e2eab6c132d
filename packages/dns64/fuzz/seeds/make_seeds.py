"""Writes seed inputs for the messages target from the DNS messages dig and NSD sent
(tests/fixtures/captured.txt): dig's query as the client query, then NSD's answers as the
upstream responses, in the target's format (a 2-byte length of the query, the query, then per
upstream query a byte n and n * 8 bytes of response, zero-padded).

    python3 packages/dns64/fuzz/seeds/make_seeds.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CAPTURED = os.path.join(HERE, "..", "..", "tests", "fixtures", "captured.txt")

messages = {}
for line in open(CAPTURED):
    if line.startswith("#") or not line.strip():
        continue
    name, hexbytes = line.split()
    messages[name] = bytes.fromhex(hexbytes)


def response(message):
    n = (len(message) + 7) // 8
    assert n < 256, "a response the target's format cannot carry"
    return bytes([n]) + message.ljust(n * 8, b"\0")


# Each seed: the query dig sent, and the answers the core's upstream queries would get.
seeds = {
    "dig-nsd-aaaa-nodata": ("aaaa_nodata.query", ["aaaa_nodata.response", "a_two.response"]),
    "dig-nsd-cname": ("cname_chain.query", ["cname_chain.response"]),
    "dig-nsd-nxdomain": ("nxdomain.query", ["nxdomain.response"]),
    "dig-nsd-mx": ("mx.query", ["mx.response"]),
    "dig-nsd-dnssec-cd": ("dnssec_cd.query", ["dnssec_cd.response"]),
    "dig-nsd-truncated": ("truncated.query", ["truncated.response"]),
    "dig-nsd-ptr6": ("ptr6.query", ["ptr4.response"]),
}
out = os.path.join(HERE, "messages")
os.makedirs(out, exist_ok=True)
for seed, (query, answers) in seeds.items():
    q = messages[query]
    data = struct.pack("!H", len(q)) + q + b"".join(response(messages[a]) for a in answers)
    with open(os.path.join(out, seed), "wb") as f:
        f.write(data)
