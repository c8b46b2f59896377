-- Face libraries (AddFaceRecord, FaceDuplicationCheckIntl, ...): groups per merchant, created on first use, and
-- one face per (group, merchant user). The embedding is sealed under the record's own data key, wrapped like a
-- transaction's (a key epoch chosen by the record's retention deadline), so deleting the row or destroying the
-- epoch shreds it; user ids and times stay clear for the queries and the sweep.
CREATE TABLE face_groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    UNIQUE (merchant_id, code)
);
CREATE TABLE face_records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    group_id INTEGER NOT NULL REFERENCES face_groups(id),
    face_id TEXT NOT NULL UNIQUE,
    merchant_user_id TEXT NOT NULL,
    registration_type TEXT NOT NULL CHECK (registration_type IN ('MANUAL', 'AUTO')),
    dek_wrapped BLOB NOT NULL,
    key_epoch TEXT,
    embedding_sealed BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    retain_until INTEGER NOT NULL,
    UNIQUE (group_id, merchant_user_id)
);
CREATE INDEX face_records_group ON face_records(group_id, id);
CREATE INDEX face_records_retention ON face_records(retain_until);
