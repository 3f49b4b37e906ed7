-- The row rules of runs move from CHECK constraints into their guard triggers
-- (the reason: sql/install/20-runs.sql; spans are rebuilt without them in
-- 01-spans-layout.sql).
ALTER TABLE instances
	DROP CONSTRAINT instances_purpose_check,
	DROP CONSTRAINT instances_status_check,
	DROP CONSTRAINT instances_times_ordered,
	DROP CONSTRAINT instances_finished_when_done,
	DROP CONSTRAINT instances_started_unless_pending,
	DROP CONSTRAINT instances_id_partition;

-- Room on each page for a run's updates (the reason: sql/install/20-runs.sql).
ALTER TABLE instances SET (fillfactor = 70);

-- Names are not blank (0.1.0 refused only the empty string). NOT VALID: an
-- upgraded database keeps a blank name it already has, new rows are checked.
ALTER TABLE accounts ADD CONSTRAINT accounts_name_not_blank CHECK (btrim(name) <> '') NOT VALID;
ALTER TABLE environments ADD CONSTRAINT environments_name_not_blank CHECK (btrim(name) <> '') NOT VALID;
ALTER TABLE agents ADD CONSTRAINT agents_name_not_blank CHECK (btrim(name) <> '') NOT VALID;
ALTER TABLE risk_profiles ADD CONSTRAINT risk_profiles_name_not_blank CHECK (btrim(name) <> '') NOT VALID;

-- The highest data classification seen in a scored run, kept beside its
-- score. Its type comes before the replay (which would make it later).
CREATE TYPE data_classification AS ENUM ('public', 'internal', 'confidential', 'restricted', 'secret');
ALTER TABLE instances ADD COLUMN max_classification data_classification;
