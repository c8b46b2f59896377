-- The round a worker is running on the engines now, claimed before the engines start so that concurrent copies of
-- the same round (same number and nonce) are refused at once instead of all running the engines. The claim is a
-- lease: a worker that crashed mid-round blocks the session only until `claim_until`. `save_round` clears it.
ALTER TABLE device_sessions ADD COLUMN claim_round INTEGER;
ALTER TABLE device_sessions ADD COLUMN claim_until INTEGER;
