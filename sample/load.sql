-- Sample runs for `make run`: a week of a support chatbot and a research agent in the account
-- "sample", made once (skipped when the account exists). See prefactor.generate_sample(), from the
-- companion extension prefactor_sample (production databases need not install it).
CREATE EXTENSION IF NOT EXISTS prefactor_sample;
SELECT CASE WHEN EXISTS (SELECT 1 FROM prefactor.accounts WHERE name = 'sample')
			THEN 'sample account exists: nothing loaded'
			ELSE (SELECT format('sample account loaded: %s runs, %s spans', g.instances, g.spans)
					FROM prefactor.generate_sample('sample', 2000) g) END AS sample;
