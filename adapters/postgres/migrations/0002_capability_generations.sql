-- HUMAN schema version 2: a per-org write generation of the capability
-- graph. Triggers bump it in every transaction that writes a node or an
-- edge, whoever the writer, so capability.Graph can cache transitive
-- answers ("who can approve") until the org's next write.

CREATE TABLE capability_generations (
	org text COLLATE "C" PRIMARY KEY,
	gen bigint NOT NULL
);
ALTER TABLE capability_generations ENABLE ROW LEVEL SECURITY;
CREATE POLICY org_isolation ON capability_generations USING (org = current_setting('human.org', true)) WITH CHECK (org = current_setting('human.org', true));

CREATE FUNCTION human_capability_bump() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
	INSERT INTO capability_generations AS g (org, gen)
	VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.org ELSE NEW.org END, 1)
	ON CONFLICT (org) DO UPDATE SET gen = g.gen + 1;
	RETURN NULL;
END
$$;

CREATE TRIGGER capability_nodes_gen AFTER INSERT OR UPDATE OR DELETE ON capability_nodes
	FOR EACH ROW EXECUTE FUNCTION human_capability_bump();
CREATE TRIGGER capability_edges_gen AFTER INSERT OR UPDATE OR DELETE ON capability_edges
	FOR EACH ROW EXECUTE FUNCTION human_capability_bump();
