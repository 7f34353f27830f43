-- HUMAN schema version 3: the capability graph's record of applied signed
-- claims (each claim ID applies once per org, so a replayed claim is
-- refused) and the evidence pointers governed work attaches to a holding.

CREATE TABLE capability_claims (
	org    text COLLATE "C" NOT NULL,
	id     text COLLATE "C" NOT NULL,
	digest text NOT NULL,
	PRIMARY KEY (org, id)
);
CREATE TABLE capability_evidence (
	org        text COLLATE "C" NOT NULL,
	subject    text COLLATE "C" NOT NULL,
	capability text COLLATE "C" NOT NULL,
	ref        text COLLATE "C" NOT NULL,
	kind       text NOT NULL,
	task       text NOT NULL,
	at         text NOT NULL, -- fixed-width RFC 3339 UTC, so text order is time order
	PRIMARY KEY (org, subject, capability, ref)
);
ALTER TABLE capability_claims   ENABLE ROW LEVEL SECURITY;
ALTER TABLE capability_evidence ENABLE ROW LEVEL SECURITY;
CREATE POLICY org_isolation ON capability_claims USING (org = current_setting('human.org', true)) WITH CHECK (org = current_setting('human.org', true));
CREATE POLICY org_isolation ON capability_evidence USING (org = current_setting('human.org', true)) WITH CHECK (org = current_setting('human.org', true));
