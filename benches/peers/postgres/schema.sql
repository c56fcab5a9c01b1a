-- The PostgreSQL peer: an append-only ledger table whose insert trigger
-- chains sha256(prev || row) per stream, the way a team would build an
-- audit trail on PostgreSQL. UPDATE, DELETE and TRUNCATE are refused.
CREATE EXTENSION IF NOT EXISTS pgcrypto;

CREATE SEQUENCE ledger_id;
CREATE TABLE ledger (
    id     bigint PRIMARY KEY,
    stream text   NOT NULL,
    body   text   NOT NULL,   -- the event, as the JSON line auditctl reads
    prev   bytea  NOT NULL,   -- the stream's previous hash ('' at genesis)
    hash   bytea  NOT NULL    -- sha256(prev || body)
);
CREATE INDEX ledger_stream_id ON ledger (stream, id);

-- The chain: one writer per stream at a time (a transaction-scoped lock),
-- ids taken under the lock so that id order is chain order.
CREATE FUNCTION ledger_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE p bytea;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext(NEW.stream));
    SELECT hash INTO p FROM ledger WHERE stream = NEW.stream ORDER BY id DESC LIMIT 1;
    NEW.id   := nextval('ledger_id');
    NEW.prev := coalesce(p, ''::bytea);
    NEW.hash := digest(NEW.prev || convert_to(NEW.body, 'UTF8'), 'sha256');
    RETURN NEW;
END $$;
CREATE TRIGGER ledger_chain BEFORE INSERT ON ledger
    FOR EACH ROW EXECUTE FUNCTION ledger_chain();

CREATE FUNCTION ledger_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only (% refused)', TG_OP;
END $$;
CREATE TRIGGER ledger_no_update_delete BEFORE UPDATE OR DELETE ON ledger
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse();
CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON ledger
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse();
