-- The pfid type: case, parsing errors, ordering, casts, generation.
CREATE EXTENSION prefactor;
SET search_path = prefactor, public;
SET timezone = 'UTC';

-- Encoding against independent vectors is test/suites/pfid: ids made by the official
-- @prefactor/pfid package, and the developers' fixture file when it is there.
-- Input is case-insensitive; output is lower case.
CREATE TEMP TABLE generated AS
	SELECT pfid_generate(g * 2147483 % 1073741824, '2024-01-01+00'::timestamptz + g * interval '1 day') AS id
	  FROM generate_series(1, 500) g;
SELECT count(*) AS generated, count(*) FILTER (WHERE id::text = lower(id::text)) AS lower_case_output,
	   count(*) FILTER (WHERE upper(id::text)::pfid = id) AS upper_case_input_reads_back
  FROM generated;

-- Malformed input: errcode invalid_text_representation, message shows the input.
SELECT 'abc'::pfid;
\echo :LAST_ERROR_SQLSTATE
SELECT '0000000000000000000000000000000u'::pfid;
\echo :LAST_ERROR_SQLSTATE
SELECT '8zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz'::pfid;
\echo :LAST_ERROR_SQLSTATE
SELECT '00000000000000000000000000000000 '::pfid;
\echo :LAST_ERROR_SQLSTATE
SELECT '7zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz'::pfid AS max_pfid;
-- try_pfid: the same parser, NULL instead of an error (names and ids share arguments).
SELECT t, prefactor.try_pfid(t) IS NOT NULL AS is_pfid,
       prefactor.try_pfid(t) = CASE WHEN prefactor.try_pfid(t) IS NOT NULL THEN t::pfid END AS same_as_cast
  FROM unnest(ARRAY['abc', '0000000000000000000000000000000u', '8zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz',
				   '00000000000000000000000000000000 ', '7ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ',
				   '01arz3ndektsv4rrffq69g5fav', '', 'production']) t;
SELECT count(*) AS generated_through_try_pfid
  FROM generated WHERE prefactor.try_pfid(upper(id::text)) = id;

-- Sort order: timestamp, then partition, then randomness.
WITH ids(label, id) AS (VALUES
	('t2 p0', pfid_build(2000, 0, '\x00000000000000000000')),
	('t1 p9', pfid_build(1000, 9, '\x00000000000000000000')),
	('t1 p1 rff', pfid_build(1000, 1, '\xff000000000000000000')),
	('t1 p1 r01', pfid_build(1000, 1, '\x01000000000000000000')),
	('t0 pmax', pfid_build(0, 1073741823, '\xffffffffffffffffffff')))
SELECT label FROM ids ORDER BY id;
SELECT pfid_build(0, 1073741823, '\xffffffffffffffffffff') < pfid_build(1, 0, '\x00000000000000000000') AS time_first,
       pfid_build(5, 1, '\x00000000000000000000') > pfid_build(5, 0, '\xffffffffffffffffffff') AS partition_second;

-- Casts: text round trip, binary send matches the 20-byte big-endian layout.
SELECT '01arz3ndektsv4rrffq69g5fav00000a'::pfid::text AS text_round_trip;
SELECT pfid_send(pfid_build(1, 1, '\x0102030405060708090a')) AS send_bytes;
SELECT length(pfid_send(pfid_generate(7))) AS send_length;

-- Binary COPY round trip goes through pfid_send and pfid_recv.
CREATE TEMP TABLE bin_src AS SELECT pfid_generate(g) AS id FROM generate_series(1, 50) g;
\copy bin_src TO 'results/pfid.bin' WITH (FORMAT binary)
CREATE TEMP TABLE bin_dst (id pfid);
\copy bin_dst FROM 'results/pfid.bin' WITH (FORMAT binary)
SELECT count(*) AS recv_round_trip FROM bin_src JOIN bin_dst USING (id);

-- Generation: partition and time are carried; randomness differs.
SELECT pfid_partition(pfid_generate(123456)) AS partition;
SELECT pfid_timestamp(pfid_generate(0, '2024-05-06 07:08:09.123+00')) AS at;
SELECT abs(extract(epoch FROM pfid_timestamp(pfid_generate(1)) - clock_timestamp())) < 5 AS now_ish;
SELECT count(DISTINCT pfid_generate(1)) AS distinct_ids FROM generate_series(1, 1000);
SELECT pfid_generate(-1);
SELECT pfid_generate(1073741824);
SELECT pfid_generate(0, 'infinity');
SELECT pfid_generate(0, '1969-12-31 23:59:59+00');
SELECT pfid_build(0, 0, '\x00');

-- btree and hash operator classes are used.
CREATE TEMP TABLE ids AS SELECT pfid_generate(g % 3) AS id FROM generate_series(1, 2000) g;
CREATE INDEX ON ids USING btree (id);
CREATE INDEX ids_hash ON ids USING hash (id);
ANALYZE ids;
SELECT count(*) AS hash_join_matches FROM ids a JOIN ids b USING (id);
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM ids WHERE id = '00000000000000000000000000000000';
EXPLAIN (COSTS OFF) SELECT id FROM ids ORDER BY id LIMIT 1;
RESET enable_seqscan;
RESET enable_bitmapscan;
SELECT count(*) = 1999 AS sorted
  FROM (SELECT id, lag(id) OVER (ORDER BY id) AS prev FROM ids) s WHERE prev < id;
