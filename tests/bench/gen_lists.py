#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Deterministic CIDR lists for tests/bench/lists_bench.sh.

gen_lists.py [-s SEED] [--v4 N] [--v6 N] OUTDIR writes into OUTDIR:

  drop.txt        about half of the IPv4 prefixes, Spamhaus DROP style:
                  '; ...' header lines, then 'a.b.c.d/n ; SBL123456'
  firehol.netset  the other half, FireHOL netset style: '#' header lines,
                  then bare 'a.b.c.d/n' or 'a.b.c.d' lines
  v6.netset       the IPv6 prefixes, FireHOL netset style
  v6cluster.netset  as many IPv6 prefixes, clustered: all in the /20
                  holding 2001:db8::/32, so in the one chunk that the
                  benchmark's IPv6 frame looks up
  listed.txt      a few addresses inside the test nets (for 'listed' frames)
  ipset.restore   the same IPv4 entries as drop.txt + firehol.netset, as
                  'ipset restore' input for a hash:net set named 'bench'
                  (the 'create' line is the caller's)

N IPv4 prefixes (default 1000000), distinct, prefix lengths uniform over
/16../32, each put in one of the two files at random, about half of the
/32s written as bare addresses; N IPv6 prefixes (default 100000),
distinct, lengths uniform over /32../128, under 2000::/3. Each file is
sorted by address. No prefix overlaps 198.51.100.0/24, 203.0.113.0/24 or
2001:db8::/32, so frames between addresses of those nets are unlisted,
except the addresses in listed.txt. The clustered IPv6 prefixes have
lengths uniform over /36../128 under 2001::/20, 2001:db8::/32 left out. Same seed, same files, byte for byte.
Prints one summary line.
"""
import argparse
import os
import random
import socket
import struct
import sys

FREE_V4 = [(198 << 24 | 51 << 16 | 100 << 8), (203 << 24 | 0 << 16 | 113 << 8)]  # /24s
FREE_V6_TOP32 = 0x20010DB8
LISTED = [
    '203.0.113.77',
    '203.0.113.78',
    '198.51.100.77',
    '2001:db8::77',
    '2001:db8:0:1::/64',
]


def gen_v4(rng, n):
    """n distinct prefixes, each as addr << 6 | len (sorts by address)."""
    lens = list(range(16, 33))
    per, extra = divmod(n, len(lens))
    f24 = [f >> 8 for f in FREE_V4]
    out = []
    for i, plen in enumerate(lens):
        k = per + (1 if i < extra else 0)
        space = 1 << plen
        # x overlaps a free /24 when its top min(plen, 24) bits are one's
        sh = max(plen - 24, 0)
        bad = {f >> max(24 - plen, 0) for f in f24}
        got = set()
        while len(got) < k:
            need = k - len(got)
            for x in rng.sample(range(space), min(space, need + need // 50 + 16)):
                if x in got or (x >> sh) in bad:
                    continue
                got.add(x)
                if len(got) == k:
                    break
        out.extend(x << (32 - plen) << 6 | plen for x in sorted(got))
    return out


def gen_v6_under(rng, n, top, top_bits, lens):
    """n distinct IPv6 prefixes of the lengths lens, spread evenly, each
    starting with the top_bits bits of top, host bits clear."""
    per, extra = divmod(n, len(lens))
    out = set()
    for i, plen in enumerate(lens):
        k = per + (1 if i < extra else 0)
        got = 0
        while got < k:
            x = (top << (plen - top_bits)) | rng.getrandbits(plen - top_bits)
            a = x << (128 - plen)
            if a >> 96 == FREE_V6_TOP32 or (a, plen) in out:
                continue
            out.add((a, plen))
            got += 1
    return sorted(out)


def gen_v6(rng, n):
    # 001 (global unicast) then random bits
    return gen_v6_under(rng, n, 0b001, 3, list(range(32, 129)))


def gen_v6_cluster(rng, n):
    # under 2001::/20: the chunk (record.h's HDRLOG_CHUNK_BITS) of 2001:db8::
    return gen_v6_under(rng, n, 0x20010, 20, list(range(36, 129)))


def v4_text(a):
    return socket.inet_ntoa(struct.pack('!I', a))


def v6_text(a):
    return socket.inet_ntop(socket.AF_INET6, a.to_bytes(16, 'big'))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('-s', '--seed', type=int, default=20240501)
    ap.add_argument('--v4', type=int, default=1000000)
    ap.add_argument('--v6', type=int, default=100000)
    ap.add_argument('outdir')
    args = ap.parse_args()
    rng = random.Random(args.seed)
    os.makedirs(args.outdir, exist_ok=True)

    v4 = gen_v4(rng, args.v4)
    # each prefix to one file or the other at random, each file sorted
    pick = rng.randbytes(len(v4))
    files = (sorted(e for e, b in zip(v4, pick) if b & 1),
             sorted(e for e, b in zip(v4, pick) if not b & 1))
    bare = rng.randbytes(len(v4))

    def v4_lines(entries, coin):
        # about half of the /32s bare
        return ['%s/%d' % (v4_text(e >> 6), e & 63)
                if (e & 63) != 32 or c & 1 else v4_text(e >> 6)
                for e, c in zip(entries, coin)]

    lines = v4_lines(files[0], bare)
    lines2 = v4_lines(files[1], bare[len(files[0]):])
    sbl = rng.choices(range(100000, 700000), k=len(lines))
    with open(os.path.join(args.outdir, 'drop.txt'), 'w') as f:
        f.write('; Spamhaus DROP List (benchmark copy, generated, seed %d)\n'
                '; Last-Modified: Wed, 01 May 2024 00:00:00 GMT\n'
                '; Expires: Thu, 02 May 2024 00:00:00 GMT\n' % args.seed)
        f.write('\n'.join('%s ; SBL%d' % t for t in zip(lines, sbl)))
        f.write('\n')
    with open(os.path.join(args.outdir, 'firehol.netset'), 'w') as f:
        f.write('#\n# firehol_bench\n#\n# ipv4 hash:net ipset\n#\n'
                '# generated by tests/bench/gen_lists.py, seed %d\n#\n' % args.seed)
        f.write('\n'.join(lines2))
        f.write('\n')
    with open(os.path.join(args.outdir, 'ipset.restore'), 'w') as f:
        f.write('\n'.join('add bench ' + s for s in lines))
        f.write('\n')
        f.write('\n'.join('add bench ' + s for s in lines2))
        f.write('\n')

    v6 = gen_v6(rng, args.v6)
    with open(os.path.join(args.outdir, 'v6.netset'), 'w') as f:
        f.write('#\n# v6_bench\n#\n# ipv6 hash:net ipset\n#\n')
        f.write('\n'.join('%s/%d' % (v6_text(a), l) for a, l in v6))
        f.write('\n')

    v6c = gen_v6_cluster(rng, args.v6)
    with open(os.path.join(args.outdir, 'v6cluster.netset'), 'w') as f:
        f.write('#\n# v6cluster_bench\n#\n# ipv6 hash:net ipset\n#\n')
        f.write('\n'.join('%s/%d' % (v6_text(a), l) for a, l in v6c))
        f.write('\n')

    with open(os.path.join(args.outdir, 'listed.txt'), 'w') as f:
        f.write('# addresses inside the test nets, for listed frames\n')
        f.write('\n'.join(LISTED))
        f.write('\n')

    bare = sum(1 for s in lines + lines2 if '/' not in s)
    print('gen_lists: %d IPv4 prefixes (%d + %d, %d bare /32s), %d IPv6, seed %d -> %s'
          % (len(v4), len(lines), len(lines2), bare, len(v6), args.seed,
             args.outdir))


if __name__ == '__main__':
    sys.exit(main())
