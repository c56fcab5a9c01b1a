"""Turns the JSON Lines events into SQL inserts for the ledger: one row per
transaction (autocommit), or BATCH rows per transaction (one multi-row
INSERT between BEGIN and COMMIT, PostgreSQL's fastest plain-SQL form)."""
import json
import sys

batch = int(sys.argv[1])
out = sys.stdout
rows = []


def flush():
    if not rows:
        return
    if batch == 1:
        for r in rows:
            out.write(f"INSERT INTO ledger (stream, body) VALUES {r};\n")
    else:
        out.write("BEGIN;\nINSERT INTO ledger (stream, body) VALUES\n")
        out.write(",\n".join(rows))
        out.write(";\nCOMMIT;\n")
    rows.clear()


for line in sys.stdin:
    line = line.rstrip("\n")
    if not line:
        continue
    stream = json.loads(line)["stream"]
    assert "$ev$" not in line
    rows.append(f"('{stream}', $ev${line}$ev$)")
    if len(rows) == batch:
        flush()
flush()
