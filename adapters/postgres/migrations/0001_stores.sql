-- HUMAN schema version 1: every store of the first release.
--
-- Text keys use the "C" collation so that ORDER BY is byte order, the
-- order the store contracts promise, whatever the database's locale.
-- Every table is keyed by org and row-level security keeps a transaction
-- to the org it set in human.org (see the package doc, # Tenancy).

CREATE TABLE passport_events (
	org   text COLLATE "C" NOT NULL,
	did   text COLLATE "C" NOT NULL,
	seq   integer NOT NULL CHECK (seq >= 0),
	event bytea NOT NULL,
	PRIMARY KEY (org, did, seq)
);
CREATE TABLE passport_keys (
	org text COLLATE "C" NOT NULL,
	key text COLLATE "C" NOT NULL,
	did text COLLATE "C" NOT NULL,
	PRIMARY KEY (org, key)
);
CREATE TABLE passport_delegations (
	org text COLLATE "C" NOT NULL,
	id  text COLLATE "C" NOT NULL,
	env bytea NOT NULL,
	PRIMARY KEY (org, id)
);
CREATE TABLE passport_revocations (
	org text COLLATE "C" NOT NULL,
	id  text COLLATE "C" NOT NULL,
	env bytea NOT NULL,
	PRIMARY KEY (org, id)
);
CREATE TABLE passport_generations (
	org text COLLATE "C" NOT NULL PRIMARY KEY,
	gen bigint NOT NULL
);

-- One log per org; the head row is the compare-and-swap point.
CREATE TABLE ledger_heads (
	org        text COLLATE "C" NOT NULL PRIMARY KEY,
	size       bigint NOT NULL CHECK (size >= 0),
	checkpoint bytea NOT NULL
);
CREATE TABLE ledger_entries (
	org   text COLLATE "C" NOT NULL,
	idx   bigint NOT NULL CHECK (idx >= 0),
	entry bytea NOT NULL,
	PRIMARY KEY (org, idx)
);
CREATE TABLE ledger_nodes (
	org   text COLLATE "C" NOT NULL,
	level smallint NOT NULL CHECK (level >= 0),
	idx   bigint NOT NULL CHECK (idx >= 0),
	hash  bytea NOT NULL,
	PRIMARY KEY (org, level, idx)
);

CREATE TABLE capability_nodes (
	org  text COLLATE "C" NOT NULL,
	id   text COLLATE "C" NOT NULL,
	kind text COLLATE "C" NOT NULL,
	name text NOT NULL,
	PRIMARY KEY (org, id)
);
CREATE TABLE capability_edges (
	org     text COLLATE "C" NOT NULL,
	from_id text COLLATE "C" NOT NULL,
	kind    text COLLATE "C" NOT NULL,
	to_id   text COLLATE "C" NOT NULL,
	level   integer NOT NULL,
	expires text NOT NULL,  -- RFC 3339 with nanoseconds, '' for never: the exact value
	expires_at timestamptz, -- the same, for filtering in SQL; NULL for never
	issuer  text NOT NULL,
	PRIMARY KEY (org, from_id, kind, to_id),
	FOREIGN KEY (org, from_id) REFERENCES capability_nodes (org, id),
	FOREIGN KEY (org, to_id) REFERENCES capability_nodes (org, id)
);
-- Out uses the primary key; In and the reverse walk of "who holds C" use this.
CREATE INDEX capability_edges_in ON capability_edges (org, to_id, kind, from_id);

CREATE TABLE policy_versions (
	org     text COLLATE "C" NOT NULL,
	version integer NOT NULL CHECK (version >= 1),
	doc     bytea NOT NULL,
	PRIMARY KEY (org, version)
);
CREATE TABLE policy_active (
	org     text COLLATE "C" NOT NULL PRIMARY KEY,
	version integer NOT NULL,
	FOREIGN KEY (org, version) REFERENCES policy_versions (org, version)
);

-- Times are Unix nanoseconds (clamped to the int64 range): they only order
-- and filter; the exact task is the JSON body.
CREATE TABLE workforce_tasks (
	org       text COLLATE "C" NOT NULL,
	id        text COLLATE "C" NOT NULL,
	state     text COLLATE "C" NOT NULL,
	created   bigint NOT NULL,
	wake      bigint,           -- NULL: no timer
	version   integer NOT NULL,
	assignees text[] COLLATE "C" NOT NULL,
	body      bytea NOT NULL,
	PRIMARY KEY (org, id)
);
CREATE INDEX workforce_tasks_list ON workforce_tasks (org, state, created, id);
CREATE INDEX workforce_tasks_due ON workforce_tasks (wake, org, id) WHERE wake IS NOT NULL;
CREATE TABLE workforce_turns (
	org text COLLATE "C" NOT NULL,
	key text COLLATE "C" NOT NULL,
	n   bigint NOT NULL,
	PRIMARY KEY (org, key)
);
CREATE TABLE workforce_away (
	org        text COLLATE "C" NOT NULL,
	human      text COLLATE "C" NOT NULL,
	until_ns   bigint NOT NULL, -- filters
	until_text text NOT NULL,   -- RFC 3339 with nanoseconds: the exact value
	PRIMARY KEY (org, human)
);

-- Counters of policy limits (budgets, rate limits), one per window.
CREATE TABLE budget_counters (
	org          text COLLATE "C" NOT NULL,
	key          text COLLATE "C" NOT NULL,
	window_start bigint NOT NULL,
	window_end   bigint NOT NULL,
	total        bigint NOT NULL CHECK (total >= 0),
	PRIMARY KEY (org, key, window_start)
);
CREATE INDEX budget_counters_end ON budget_counters (org, window_end);

-- Row-level security: a transaction sees and writes only the org it named.
ALTER TABLE passport_events      ENABLE ROW LEVEL SECURITY;
ALTER TABLE passport_keys        ENABLE ROW LEVEL SECURITY;
ALTER TABLE passport_delegations ENABLE ROW LEVEL SECURITY;
ALTER TABLE passport_revocations ENABLE ROW LEVEL SECURITY;
ALTER TABLE passport_generations ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger_heads         ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger_entries       ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger_nodes         ENABLE ROW LEVEL SECURITY;
ALTER TABLE capability_nodes     ENABLE ROW LEVEL SECURITY;
ALTER TABLE capability_edges     ENABLE ROW LEVEL SECURITY;
ALTER TABLE policy_versions      ENABLE ROW LEVEL SECURITY;
ALTER TABLE policy_active        ENABLE ROW LEVEL SECURITY;
ALTER TABLE workforce_tasks      ENABLE ROW LEVEL SECURITY;
ALTER TABLE workforce_turns      ENABLE ROW LEVEL SECURITY;
ALTER TABLE workforce_away       ENABLE ROW LEVEL SECURITY;
ALTER TABLE budget_counters      ENABLE ROW LEVEL SECURITY;
CREATE POLICY org_isolation ON passport_events      USING (org = current_setting('human.org', true)) WITH CHECK (org = current_setting('human.org', true));
CREATE POLICY org_isolation ON passport_keys        USING (org = current_setting('human.org', true)) WITH CHECK (org = current_setting('human.org', true));
CREATE POLICY org_isolation ON passport_delegations USING (org = current_setting('human.org', true)) WITH CHECK (org = current_setting('human.org', true));
CREATE POLICY org_isolation ON passport_revocations USING (org = current_setting('human.org', true)) WITH CHECK (org = current_setting('human.org', true));
CREATE POLICY org_isolation ON passport_generations USING (org = current_setting('human.org', true)) WITH CHECK (org = current_setting('human.org', true));
CREATE POLICY org_isolation ON ledger_heads         USING (org = current_setting('human.org', true)) WITH CHECK (org = current_setting('human.org', true));
CREATE POLICY org_isolation ON ledger_entries       USING (org = current_setting('human.org', true)) WITH CHECK (org = current_setting('human.org', true));
CREATE POLICY org_isolation ON ledger_nodes         USING (org = current_setting('human.org', true)) WITH CHECK (org = current_setting('human.org', true));
CREATE POLICY org_isolation ON capability_nodes     USING (org = current_setting('human.org', true)) WITH CHECK (org = current_setting('human.org', true));
CREATE POLICY org_isolation ON capability_edges     USING (org = current_setting('human.org', true)) WITH CHECK (org = current_setting('human.org', true));
CREATE POLICY org_isolation ON policy_versions      USING (org = current_setting('human.org', true)) WITH CHECK (org = current_setting('human.org', true));
CREATE POLICY org_isolation ON policy_active        USING (org = current_setting('human.org', true)) WITH CHECK (org = current_setting('human.org', true));
CREATE POLICY org_isolation ON workforce_tasks      USING (org = current_setting('human.org', true)) WITH CHECK (org = current_setting('human.org', true));
CREATE POLICY org_isolation ON workforce_turns      USING (org = current_setting('human.org', true)) WITH CHECK (org = current_setting('human.org', true));
CREATE POLICY org_isolation ON workforce_away       USING (org = current_setting('human.org', true)) WITH CHECK (org = current_setting('human.org', true));
CREATE POLICY org_isolation ON budget_counters      USING (org = current_setting('human.org', true)) WITH CHECK (org = current_setting('human.org', true));

-- The one cross-org read: the timer sweeper's. It runs as the owner of
-- the tables (SECURITY DEFINER, so row-level security does not bind it)
-- and returns nothing but tasks whose timer is due.
CREATE FUNCTION human_due_tasks(before bigint, lim bigint) RETURNS SETOF bytea
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
	SELECT body FROM workforce_tasks
	WHERE wake IS NOT NULL AND wake < before
	ORDER BY wake, org, id
	LIMIT lim
$$;
