------------------------------------------------------------------------------
-- The pfid type
------------------------------------------------------------------------------
CREATE TYPE pfid;

CREATE OR REPLACE FUNCTION pfid_in(cstring) RETURNS pfid
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION pfid_out(pfid) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION pfid_recv(internal) RETURNS pfid
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION pfid_send(pfid) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pfid_in(cstring) IS 'Text input of pfid: 32 Crockford Base32 characters, case-insensitive';
COMMENT ON FUNCTION pfid_out(pfid) IS 'Text output of pfid: 32 lower-case Crockford Base32 characters';
COMMENT ON FUNCTION pfid_recv(internal) IS 'Binary input of pfid: 20 bytes, big-endian';
COMMENT ON FUNCTION pfid_send(pfid) IS 'Binary output of pfid: 20 bytes, big-endian';

CREATE TYPE pfid (
	INPUT = pfid_in,
	OUTPUT = pfid_out,
	RECEIVE = pfid_recv,
	SEND = pfid_send,
	INTERNALLENGTH = 20,
	ALIGNMENT = char,
	STORAGE = plain
);
COMMENT ON TYPE pfid IS
	'Prefactor id: 48-bit ms timestamp, 30-bit partition, 80 random bits; 32 Crockford Base32 characters, 20 bytes; sorts by time, partition, randomness';

CREATE OR REPLACE FUNCTION pfid_lt(pfid, pfid) RETURNS bool AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION pfid_le(pfid, pfid) RETURNS bool AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION pfid_eq(pfid, pfid) RETURNS bool AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION pfid_ne(pfid, pfid) RETURNS bool AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION pfid_ge(pfid, pfid) RETURNS bool AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION pfid_gt(pfid, pfid) RETURNS bool AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION pfid_cmp(pfid, pfid) RETURNS int4 AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION pfid_sortsupport(internal) RETURNS void AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION pfid_hash(pfid) RETURNS int4 AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION pfid_hash_extended(pfid, int8) RETURNS int8 AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
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

CREATE OPERATOR < (LEFTARG = pfid, RIGHTARG = pfid, FUNCTION = pfid_lt,
	COMMUTATOR = >, NEGATOR = >=, RESTRICT = scalarltsel, JOIN = scalarltjoinsel);
CREATE OPERATOR <= (LEFTARG = pfid, RIGHTARG = pfid, FUNCTION = pfid_le,
	COMMUTATOR = >=, NEGATOR = >, RESTRICT = scalarlesel, JOIN = scalarlejoinsel);
CREATE OPERATOR = (LEFTARG = pfid, RIGHTARG = pfid, FUNCTION = pfid_eq,
	COMMUTATOR = =, NEGATOR = <>, RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES);
CREATE OPERATOR <> (LEFTARG = pfid, RIGHTARG = pfid, FUNCTION = pfid_ne,
	COMMUTATOR = <>, NEGATOR = =, RESTRICT = neqsel, JOIN = neqjoinsel);
CREATE OPERATOR >= (LEFTARG = pfid, RIGHTARG = pfid, FUNCTION = pfid_ge,
	COMMUTATOR = <=, NEGATOR = <, RESTRICT = scalargesel, JOIN = scalargejoinsel);
CREATE OPERATOR > (LEFTARG = pfid, RIGHTARG = pfid, FUNCTION = pfid_gt,
	COMMUTATOR = <, NEGATOR = <=, RESTRICT = scalargtsel, JOIN = scalargtjoinsel);

CREATE OPERATOR CLASS pfid_ops DEFAULT FOR TYPE pfid USING btree AS
	OPERATOR 1 <, OPERATOR 2 <=, OPERATOR 3 =, OPERATOR 4 >=, OPERATOR 5 >,
	FUNCTION 1 pfid_cmp(pfid, pfid),
	FUNCTION 2 pfid_sortsupport(internal);

CREATE OPERATOR CLASS pfid_hash_ops DEFAULT FOR TYPE pfid USING hash AS
	OPERATOR 1 =,
	FUNCTION 1 pfid_hash(pfid),
	FUNCTION 2 pfid_hash_extended(pfid, int8);

CREATE OR REPLACE FUNCTION pfid_generate(partition int) RETURNS pfid
	AS 'MODULE_PATHNAME', 'pfid_generate_now' LANGUAGE C VOLATILE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pfid_generate(int) IS
	'New pfid in the given partition (0..1073741823), stamped with the current time; randomness from pg_strong_random';
CREATE OR REPLACE FUNCTION pfid_generate(partition int, at timestamptz) RETURNS pfid
	AS 'MODULE_PATHNAME', 'pfid_generate_at' LANGUAGE C VOLATILE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pfid_generate(int, timestamptz) IS
	'New pfid in the given partition stamped with the given instant (millisecond precision, 1970 .. year 10889)';
CREATE OR REPLACE FUNCTION pfid_build(unix_ms bigint, partition int, randomness bytea) RETURNS pfid
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pfid_build(bigint, int, bytea) IS
	'The pfid with exactly these fields: Unix milliseconds (48 bits), partition (30 bits), 10 bytes of randomness';
CREATE OR REPLACE FUNCTION pfid_timestamp(pfid) RETURNS timestamptz
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pfid_timestamp(pfid) IS 'The instant a pfid was generated for (millisecond precision)';
CREATE OR REPLACE FUNCTION pfid_unix_ms(pfid) RETURNS bigint
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pfid_unix_ms(pfid) IS 'The timestamp field of a pfid in Unix milliseconds';
CREATE OR REPLACE FUNCTION pfid_partition(pfid) RETURNS int
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pfid_partition(pfid) IS 'The partition field of a pfid: the account partition its row belongs to';
CREATE OR REPLACE FUNCTION pfid_randomness(pfid) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pfid_randomness(pfid) IS 'The 80 random bits of a pfid as 10 bytes';
