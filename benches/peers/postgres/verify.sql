-- Verifies the ledger's chains: every row's prev is its stream's previous
-- hash, and its hash is sha256(prev || body). Prints rows and bad rows.
SELECT count(*) AS rows,
       count(*) FILTER (
           WHERE hash <> digest(prev || convert_to(body, 'UTF8'), 'sha256')
              OR prev <> coalesce(before, ''::bytea)
       ) AS bad
FROM (
    SELECT hash, prev, body, lag(hash) OVER (PARTITION BY stream ORDER BY id) AS before
    FROM ledger
) chained;
