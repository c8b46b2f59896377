-- Token buckets drawn from by every process on this database (`Store::take_rate_token`): `tokens` as of
-- `updated_ms`. The embedded server keeps its limits in memory; these serve several processes on one data
-- directory and mirror the PostgreSQL backend, where several instances share them.
CREATE TABLE rate_buckets (
    key TEXT PRIMARY KEY,
    tokens REAL NOT NULL,
    updated_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX rate_buckets_updated ON rate_buckets(updated_ms);

-- A face group's version, raised with every face added or deleted: a process's in-memory search index knows
-- from it whether another process changed the group (`Store::face_group_state`).
ALTER TABLE face_groups ADD COLUMN version INTEGER NOT NULL DEFAULT 0;

-- Work one process does at a time (the housekeeping sweep): the holder and until when.
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until_at INTEGER NOT NULL
) WITHOUT ROWID;
