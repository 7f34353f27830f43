-- HUMAN schema version 4: the ledger's query index (ledger.IndexStore), as
-- in SQLite: one row per indexed entry (its signed time, kind, predicate
-- org and action), and one term row per kind, action, actor and subject
-- value, so a query walks the rarest term's rows in index order instead of
-- scanning the log. The ledger extracts the fields from the signed entries
-- and re-checks every result; entries appended before this version are not
-- indexed.

CREATE TABLE ledger_index (
	org      text COLLATE "C" NOT NULL, -- the log
	idx      bigint NOT NULL CHECK (idx >= 0),
	time     bigint,                    -- Unix nanoseconds, NULL when unsigned
	kind     text COLLATE "C" NOT NULL,
	pred_org text COLLATE "C" NOT NULL,
	action   text COLLATE "C" NOT NULL,
	PRIMARY KEY (org, idx)
);
CREATE TABLE ledger_terms (
	org  text COLLATE "C" NOT NULL,
	term text COLLATE "C" NOT NULL,
	idx  bigint NOT NULL CHECK (idx >= 0),
	PRIMARY KEY (org, term, idx)
);
ALTER TABLE ledger_index ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger_terms ENABLE ROW LEVEL SECURITY;
CREATE POLICY org_isolation ON ledger_index USING (org = current_setting('human.org', true)) WITH CHECK (org = current_setting('human.org', true));
CREATE POLICY org_isolation ON ledger_terms USING (org = current_setting('human.org', true)) WITH CHECK (org = current_setting('human.org', true));
