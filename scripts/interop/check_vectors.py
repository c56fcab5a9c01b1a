#!/usr/bin/env python3
"""An independent implementation of FORMAT-v1 sections 1, 2 and 5 in Python,
checked against the committed vectors.

It shares no code with the Rust crates: records are parsed with the standard
json module (duplicate keys, floats and -0 refused through its hooks), every
string is NFC-normalized with unicodedata, and the canonical bytes are written
by json.dumps with the format's key order. Hashes use the `blake3` package from
PyPI. If this script and audit-canon ever disagree on a byte, one of them reads
the spec differently, and the vectors say which.

Usage: python3 scripts/interop/check_vectors.py [VECTORS_DIR]
Needs: pip install blake3
"""

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
    print("interop: %d passed, 0 failed (python reproduces every canonical byte, hash and root)" % n)


if __name__ == "__main__":
    main()
