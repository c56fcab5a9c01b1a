#!/usr/bin/env python3
"""An independent implementation of FORMAT-v1 sections 1, 2, 4 and 5 in
Python, checked against the committed vectors and WAL fixtures.

It shares no code with the Rust crates: records are parsed with the standard
json module (duplicate keys, floats and -0 refused through its hooks), every
string is NFC-normalized with unicodedata, and the canonical bytes are written
by json.dumps with the format's key order. Hashes use the `blake3` package from
PyPI. If this script and audit-canon ever disagree on a byte, one of them reads
the spec differently, and the vectors say which.

It also verifies the committed export bundle (section 6) with the public key
openssl made (vectors/bundle/test-key.pub.pem): manifest, segment frames,
chain, the frontier-extended Merkle roots of every checkpoint, the checkpoint
chain, and each Ed25519 signature (the `cryptography` package, which wraps
OpenSSL).

Usage: python3 scripts/interop/check_vectors.py [VECTORS_DIR]
Needs: pip install blake3 cryptography
"""

import base64
import json
import sys
import unicodedata
from pathlib import Path

try:
    import blake3
except ImportError:  # pragma: no cover
    sys.exit("check_vectors.py needs the blake3 package: pip install blake3")

ORDER = ["v", "ts_ms", "writer_id", "seq", "stream", "kind", "actor", "subject", "reason", "attrs", "prev"]


class Invalid(Exception):
    pass


def no_dups(pairs):
    out = {}
    for k, v in pairs:
        nk = unicodedata.normalize("NFC", k)
        if nk in out:
            raise Invalid("duplicate key (or equal after NFC): %r" % k)
        out[nk] = v
    return out


def no_float(s):
    raise Invalid("float %s" % s)


def parse_int(s):
    if s == "-0":
        raise Invalid("-0")
    v = int(s)
    if not (-(2**63) <= v <= 2**64 - 1):
        raise Invalid("integer out of range")
    return v


def nfc(v):
    if isinstance(v, str):
        return unicodedata.normalize("NFC", v)
    if isinstance(v, list):
        return [nfc(x) for x in v]
    if isinstance(v, dict):
        return {k: nfc(x) for k, x in v.items()}
    return v


def dumps(v):
    # Keys of nested objects ascend by their UTF-8 bytes.
    if isinstance(v, dict):
        items = sorted(v.items(), key=lambda kv: kv[0].encode("utf-8"))
        return "{" + ",".join(dumps(k) + ":" + dumps(x) for k, x in items) + "}"
    if isinstance(v, list):
        return "[" + ",".join(dumps(x) for x in v) + "]"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    if isinstance(v, int):
        return str(v)
    # Strings: json escapes " \\ and U+0000..U+001F (short forms where they
    # exist, else lowercase \\u00xx) and, with ensure_ascii off, nothing else.
    return json.dumps(v, ensure_ascii=False)


def canonical(text: bytes) -> bytes:
    if text.startswith(b"\xef\xbb\xbf"):
        raise Invalid("bom")
    rec = json.loads(
        text.decode("utf-8"),
        object_pairs_hook=no_dups,
        parse_float=no_float,
        parse_int=parse_int,
        parse_constant=no_float,
    )
    rec = nfc(rec)
    rec.pop("self_hash", None)
    if set(rec) != set(ORDER):
        raise Invalid("fields %r" % sorted(rec))
    return ("{" + ",".join('"%s":%s' % (k, dumps(rec[k])) for k in ORDER) + "}").encode("utf-8")


def h(data: bytes) -> bytes:
    return blake3.blake3(data).digest()


def hs(d: bytes) -> str:
    return "b3:" + d.hex()


def mth(leaves):
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return h(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


class SegErr(Exception):
    def __init__(self, code, segment, offset):
        super().__init__("%s at segment %d offset %d" % (code, segment, offset))
        self.code, self.segment, self.offset = code, segment, offset


MAGIC = b"RON-AUD\x01"
MAX_LEN = 1 << 20


def check_record(payload):
    """The canonical-record rules a segment reader needs; returns the record."""
    try:
        if canonical(payload) != payload:
            raise Invalid("not canonical")
        rec = json.loads(payload.decode("utf-8"))
    except (Invalid, ValueError, UnicodeDecodeError) as e:
        raise Invalid(str(e))
    if rec["v"] != 1 or not isinstance(rec["seq"], int) or rec["seq"] < 1:
        raise Invalid("v or seq")
    if (rec["seq"] == 1) != (rec["prev"] == "b3:0"):
        raise Invalid("prev")
    return rec


def read_wal(d: Path):
    """Reads a WAL directory as FORMAT-v1 section 4 says: frames, chains,
    the torn tail of the newest segment, or the first error."""
    nums = {}
    for f in d.iterdir():
        name = f.name
        if name.startswith("wal-") and name.endswith(".seg"):
            digits = name[4:-4]
            if len(digits) >= 6 and digits.isdigit() and "wal-%06d.seg" % int(digits) == name:
                nums[int(digits)] = f
    last = max(nums) if nums else 0
    for n in range(1, last + 1):
        if n not in nums:
            raise SegErr("missing_segment", n, 0)
    chains, leaves, frames, torn = {}, {}, [], None
    for n in range(1, last + 1):
        data = nums[n].read_bytes()
        hd = data[:32]
        if (len(hd) < 32 or hd[:8] != MAGIC or hd[8:10] != b"\0\0"
                or int.from_bytes(hd[14:22], "little") != n or hd[22:32] != bytes(10)):
            raise SegErr("segment_header", n, 0)
        pos = 32
        while pos < len(data):
            rest = data[pos:]
            whole = len(rest) >= 4 and 1 <= int.from_bytes(rest[:4], "little") <= MAX_LEN \
                and len(rest) >= 45 + int.from_bytes(rest[:4], "little")
            if not whole:
                zeros = rest == bytes(len(rest))
                ln = int.from_bytes(rest[:4], "little") if len(rest) >= 4 else None
                incomplete = ln is None or (1 <= ln <= MAX_LEN)
                if not zeros and not incomplete:
                    raise SegErr("frame_len", n, pos)
                if n != last:
                    raise SegErr("trailing_bytes", n, pos)
                torn = {"segment": n, "offset": pos, "len": len(rest), "kind": "zeros" if zeros else "incomplete"}
                break
            ln = int.from_bytes(rest[:4], "little")
            v, seq = rest[4], int.from_bytes(rest[5:13], "little")
            payload, digest = rest[13:13 + ln], rest[13 + ln:45 + ln]
            try:
                rec = check_record(payload)
            except Invalid:
                raise SegErr("frame_record", n, pos)
            if h(payload) != digest:
                raise SegErr("frame_digest", n, pos)
            if v != rec["v"] or seq != rec["seq"]:
                raise SegErr("frame_field", n, pos)
            key = (rec["writer_id"], rec["stream"])
            prev_seq, head = chains.get(key, (0, "b3:0"))
            if rec["seq"] != prev_seq + 1 or rec["prev"] != head:
                raise SegErr("chain_link", n, pos)
            chains[key] = (rec["seq"], hs(h(payload)))
            leaves.setdefault(key, []).append(h(b"\x00" + h(payload)))
            frames.append({"segment": n, "offset": pos, "seq": rec["seq"], "writer_id": rec["writer_id"],
                           "stream": rec["stream"], "self_hash": hs(h(payload))})
            pos += 45 + ln
    streams = sorted(({"writer_id": w, "stream": s, "seq": q, "head": hd, "root": hs(mth(leaves[(w, s)]))}
                      for (w, s), (q, hd) in chains.items()), key=lambda x: x["stream"])
    return frames, streams, torn


def check_wal(root: Path):
    doc = json.loads((root / "wal.json").read_text())
    n = 0
    for case in doc["cases"]:
        d = root / "wal" / case["name"]
        files = sorted(f.name for f in d.iterdir() if f.name != "README.md")
        assert files == case["files"], "%s: files %r" % (case["name"], files)
        try:
            frames, streams, torn = read_wal(d)
            got = {"frames": frames, "streams": streams, "torn": torn, "want_err": None}
        except SegErr as e:
            got = {"want_err": {"code": e.code, "segment": e.segment, "offset": e.offset}}
        want = {k: case[k] for k in ("frames", "streams", "torn") if k in case}
        want["want_err"] = case["want_err"] and {k: case["want_err"][k] for k in ("code", "segment", "offset")}
        assert got == want, "%s (%s):\n python %s\n vector %s" % (case["name"], case["desc"], got, want)
        n += 1
    return n


CP_ORDER = ["v", "writer_id", "stream", "range", "root", "head", "prev_checkpoint", "created_ts_ms"]


def frontier_push(frontier, leaf):
    """frontier: list of (size, hash), largest first; adds one leaf."""
    node, size = leaf, 1
    while frontier and frontier[-1][0] == size:
        s, left = frontier.pop()
        node, size = h(b"\x01" + left + node), size * 2
    frontier.append((size, node))


def frontier_root(frontier):
    root = frontier[-1][1]
    for _, left in reversed(frontier[:-1]):
        root = h(b"\x01" + left + root)
    return root


def verify_bundle(d: Path, pub_pem: bytes):
    from cryptography.hazmat.primitives.serialization import load_pem_public_key, Encoding, PublicFormat
    pub = load_pem_public_key(pub_pem)
    raw = pub.public_bytes(Encoding.Raw, PublicFormat.Raw)
    kid = h(raw)[:16].hex()
    m = json.loads((d / "manifest.json").read_bytes())
    assert m["version"] == 1
    start = m["files"][0]["range"][0]
    # The frontier of the tree of size start - 1: subtree sizes are the
    # binary decomposition of start - 1, largest first.
    sizes = [1 << b for b in reversed(range(64)) if (start - 1) >> b & 1]
    assert len(sizes) == len(m["frontier"]), "frontier length"
    frontier = [(sz, bytes.fromhex(x[3:])) for sz, x in zip(sizes, m["frontier"])]
    roots, heads, seq = {}, {}, start - 1
    for f in m["files"]:
        data = (d / f["file"]).read_bytes()
        assert len(data) == f["bytes"] and hs(h(data)) == f["b3"], f["file"]
        assert data[:8] == MAGIC and int.from_bytes(data[14:22], "little") == int(f["file"][8:14])
        pos, prev, count = 32, None, 0
        while pos < len(data):
            ln = int.from_bytes(data[pos:pos + 4], "little")
            payload, digest = data[pos + 13:pos + 13 + ln], data[pos + 13 + ln:pos + 45 + ln]
            rec = check_record(payload)
            assert h(payload) == digest and rec["seq"] == seq + 1, "frame at %d" % pos
            assert (rec["writer_id"], rec["stream"]) == (m["writer_id"], m["stream"])
            assert prev is None or rec["prev"] == prev, "chain at seq %d" % rec["seq"]
            seq, prev, count = rec["seq"], hs(digest), count + 1
            frontier_push(frontier, h(b"\x00" + digest))
            roots[seq], heads[seq] = frontier_root(frontier), prev
            pos += 45 + ln
        assert count == f["count"] and [seq - count + 1, seq] == f["range"]
    lines = (d / "checkpoints.jsonl").read_bytes().splitlines()
    assert len(lines) == m["checkpoints"]
    prev_cp, expect_start = None, start
    for line in lines:
        cp = json.loads(line)
        body = cp["body"]
        canon = ("{" + ",".join('"%s":%s' % (k, dumps(body[k])) for k in CP_ORDER) + "}").encode()
        assert line.startswith(b'{"body":' + canon + b',"sigs":['), "canonical body"
        a, b = body["range"]
        assert a == expect_start and (prev_cp is None or body["prev_checkpoint"] == prev_cp)
        assert body["root"] == hs(roots[b]) and body["head"] == heads[b], "checkpoint %d..%d" % (a, b)
        ok = [s for s in cp["sigs"] if s["alg"] == "ed25519" and s["kid"] == kid]
        assert ok, "no signature by the openssl key's kid %s" % kid
        for s in ok:
            pub.verify(base64.b64decode(s["sig"]), b"ron-audit checkpoint v1\n" + canon)
        prev_cp, expect_start = hs(h(canon)), b + 1
    assert expect_start == seq + 1, "records beyond the last checkpoint"
    return len(lines)


def main():
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "vectors"
    records = json.loads((root / "records.json").read_text())
    n = 0
    for case in records["valid"]:
        got = canonical(case["input"].encode("utf-8"))
        want = case["canonical"].encode("utf-8")
        assert got == want, "%s:\n python %s\n vector %s" % (case["desc"], got, want)
        assert hs(h(got)) == case["self_hash"], case["desc"]
        n += 1
    chain = records["chain"]
    leaves = [h(b"\x00" + h(r.encode())) for r in chain["records"]]
    assert hs(mth(leaves)) == chain["root"], "chain root"
    assert hs(h(chain["checkpoint_body"].encode())) == chain["checkpoint_digest"]
    merkle = json.loads((root / "merkle.json").read_text())
    selfs = [h(("ron-audit vector record %d" % i).encode()) for i in range(100)]
    assert [hs(x) for x in selfs] == merkle["record_self_hashes"]
    leaves = [h(b"\x00" + s) for s in selfs]
    for case in merkle["roots"]:
        assert hs(mth(leaves[: case["size"]])) == case["root"], "root of %d" % case["size"]
        n += 1
    n += check_wal(root)
    n += verify_bundle(root / "bundle" / "v1", (root / "bundle" / "test-key.pub.pem").read_bytes())
    print("interop: %d passed, 0 failed (python reproduces every canonical byte, hash, root, WAL reading and the openssl-keyed bundle)" % n)


if __name__ == "__main__":
    main()
