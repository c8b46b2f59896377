-- Capture fingerprints (idv-liveness `fingerprint`): per liveness capture, 64-bit difference hashes of each
-- frame's face region and the per-frame pose/eye/mouth/size/position series, so a capture re-encoded, rescaled or
-- cropped and replayed in another transaction is recognised where the byte digests are not. Like the digests they
-- are stored plain and outlive shredding of their transaction, for the same 30 days: a 9x8 grid of brightness
-- comparisons and a few angles per frame cannot be turned back into a picture, and they protect other sessions.
CREATE TABLE capture_fingerprints (
    transaction_id TEXT NOT NULL,
    -- SHA-256 of the fingerprint bytes: registering the same capture twice is idempotent.
    digest BLOB NOT NULL CHECK (length(digest) = 32),
    fingerprint BLOB NOT NULL,
    seen_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (transaction_id, digest)
) WITHOUT ROWID;
CREATE INDEX capture_fingerprints_expiry ON capture_fingerprints(expires_at);
-- The frame hashes, indexed by 16-bit band: `band_key` is (band index << 16) | band value, so a hash within
-- Hamming distance 3 of a registered one shares at least one band key with it (4 bands, pigeonhole) and one
-- index lookup finds it; the distance itself is computed by the store's code on the candidates.
CREATE TABLE capture_hash_bands (
    band_key INTEGER NOT NULL,
    transaction_id TEXT NOT NULL,
    hash INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (band_key, transaction_id, hash)
) WITHOUT ROWID;
CREATE INDEX capture_hash_bands_expiry ON capture_hash_bands(expires_at);
