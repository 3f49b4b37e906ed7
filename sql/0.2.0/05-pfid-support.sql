------------------------------------------------------------------------------
-- Comments on the pfid type's support functions (the type came in 0.1.0).
------------------------------------------------------------------------------
COMMENT ON FUNCTION pfid_in(cstring) IS 'Text input of pfid: 32 Crockford Base32 characters, case-insensitive';
COMMENT ON FUNCTION pfid_out(pfid) IS 'Text output of pfid: 32 lower-case Crockford Base32 characters';
COMMENT ON FUNCTION pfid_recv(internal) IS 'Binary input of pfid: 20 bytes, big-endian';
COMMENT ON FUNCTION pfid_send(pfid) IS 'Binary output of pfid: 20 bytes, big-endian';
COMMENT ON FUNCTION pfid_lt(pfid, pfid) IS 'Implements the < operator of pfid';
COMMENT ON FUNCTION pfid_le(pfid, pfid) IS 'Implements the <= operator of pfid';
COMMENT ON FUNCTION pfid_eq(pfid, pfid) IS 'Implements the = operator of pfid';
COMMENT ON FUNCTION pfid_ne(pfid, pfid) IS 'Implements the <> operator of pfid';
COMMENT ON FUNCTION pfid_ge(pfid, pfid) IS 'Implements the >= operator of pfid';
COMMENT ON FUNCTION pfid_gt(pfid, pfid) IS 'Implements the > operator of pfid';
COMMENT ON FUNCTION pfid_cmp(pfid, pfid) IS 'btree comparison of pfid: time, then partition, then randomness';
COMMENT ON FUNCTION pfid_sortsupport(internal) IS 'btree sort support of pfid';
COMMENT ON FUNCTION pfid_hash(pfid) IS 'hash opclass support of pfid';
COMMENT ON FUNCTION pfid_hash_extended(pfid, bigint) IS 'hash opclass support of pfid (64-bit, seeded)';
