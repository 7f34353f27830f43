package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/humanos/human/adapters/postgres"
	"github.com/humanos/human/capability"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/policy"
	"github.com/humanos/human/workforce"
)

// orgTables are every org-keyed table of the schema.
var orgTables = []string{
	"passport_events", "passport_keys", "passport_delegations", "passport_revocations", "passport_generations",
	"ledger_heads", "ledger_entries", "ledger_nodes",
	"capability_nodes", "capability_edges",
	"policy_versions", "policy_active",
	"workforce_tasks", "workforce_turns", "workforce_away",
	"budget_counters",
}

// fillOrg writes something into every table for org through the stores.
func fillOrg(t *testing.T, d *postgres.DB, org string) {
	t.Helper()
	ctx := context.Background()
	st := d.Stores()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.Passports.AppendEvent(ctx, org, "did:key:a", 0, []byte("inception"), []string{"key-a"}))
	must(st.Passports.PutDelegation(ctx, org, "d1", []byte("delegation")))
	must(st.Passports.PutRevocation(ctx, org, "d1", []byte("revocation")))
	must(st.Ledger.Append(ctx, org, 0, [][]byte{[]byte("entry")}, []ledger.Node{{ID: ledger.NodeID{}, Hash: []byte("h")}}, []byte("cp")))
	must(st.Graph.PutNode(ctx, org, capability.Node{ID: "alice", Kind: capability.Human}))
	must(st.Graph.PutNode(ctx, org, capability.Node{ID: "cap", Kind: capability.Capability}))
	must(st.Graph.PutEdge(ctx, org, capability.Edge{From: "alice", To: "cap", Kind: capability.Holds}))
	must(st.Policies.PutVersion(ctx, org, 1, []byte("doc")))
	must(st.Policies.SetActive(ctx, org, 1, 0))
	now := time.Now()
	must(st.Tasks.Create(ctx, &workforce.Task{Spec: workforce.Spec{Org: org}, ID: "t1", State: workforce.Pending,
		CreatedAt: now, Wake: now.Add(-time.Hour), Assignees: []string{"alice"}}))
	roster := postgres.NewQueueStore(d)
	_, err := roster.Turn(ctx, org, "k")
	must(err)
	must(roster.PutAway(ctx, org, "alice", now.Add(time.Hour)))
	_, err = st.Budgets.Spend(ctx, org, []policy.Charge{{Key: "k", Start: now, End: now.Add(time.Hour), Amount: 1, Max: 10}})
	must(err)
}

// TestAttackRowLevelSecurity connects as the application role and runs
// queries with no WHERE clause at all: with human.org set to another org,
// or not set, they see none of acme's rows, and writing a row of acme while
// scoped to another org is refused. This is the guarantee behind every
// store call: even a forgotten WHERE cannot cross orgs.
func TestAttackRowLevelSecurity(t *testing.T) {
	ctx := context.Background()
	schema := newSchema(t)
	app := openApp(t, schema)
	fillOrg(t, app, "acme")
	pool := app.Pool()
	count := func(t *testing.T, org *string, table string) int {
		t.Helper()
		var n int
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if org != nil {
				if _, err := tx.Exec(ctx, `SELECT set_config('human.org', $1, true)`, *org); err != nil {
					return err
				}
			}
			return tx.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{schema, table}.Sanitize()).Scan(&n)
		})
		if err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		return n
	}
	acme, evil, empty := "acme", "evil", ""
	for _, table := range orgTables {
		if n := count(t, &acme, table); n == 0 {
			t.Errorf("%s: acme sees none of its own rows (fillOrg missed the table?)", table)
		}
		if n := count(t, &evil, table); n != 0 {
			t.Errorf("%s: a query scoped to another org sees %d of acme's rows", table, n)
		}
		if n := count(t, &empty, table); n != 0 {
			t.Errorf("%s: a query scoped to the empty org sees %d rows", table, n)
		}
		if n := count(t, nil, table); n != 0 {
			t.Errorf("%s: a query that set no org sees %d rows", table, n)
		}
	}
	// Writing into acme while scoped to evil: the WITH CHECK half.
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('human.org', 'evil', true)`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO `+pgx.Identifier{schema, "ledger_entries"}.Sanitize()+` (org, idx, entry) VALUES ('acme', 1, 'forged')`)
		return err
	})
	if err == nil {
		t.Fatal("inserting a row of acme while scoped to evil succeeded")
	}
	// Updating or deleting without WHERE, scoped to evil, touches nothing.
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('human.org', 'evil', true)`); err != nil {
			return err
		}
		for _, table := range orgTables {
			tag, err := tx.Exec(ctx, `DELETE FROM `+pgx.Identifier{schema, table}.Sanitize())
			if err != nil {
				return err
			}
			if tag.RowsAffected() != 0 {
				t.Errorf("DELETE FROM %s scoped to evil removed %d rows", table, tag.RowsAffected())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, &acme, "ledger_entries"); n != 1 {
		t.Fatalf("acme has %d ledger entries after the attack, want 1", n)
	}
	// The stores called with another org see nothing either.
	st := app.Stores()
	if size, _, err := st.Ledger.Head(ctx, "evil"); err != nil || size != 0 {
		t.Errorf("Head(evil) = %d, %v", size, err)
	}
	if _, err := st.Policies.Version(ctx, "evil", 1); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("Version(evil, 1) = %v, want ErrNotFound", err)
	}
}

// TestAttackAppRoleIsBoundByRLS checks the premise of the test above: the
// application role neither owns the tables nor bypasses row-level security.
func TestAttackAppRoleIsBoundByRLS(t *testing.T) {
	ctx := context.Background()
	schema := newSchema(t)
	pool := openApp(t, schema).Pool()
	var super, bypass bool
	if err := pool.QueryRow(ctx, `SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user`).Scan(&super, &bypass); err != nil {
		t.Fatal(err)
	}
	if super || bypass {
		t.Fatalf("application role: superuser %v, bypassrls %v; want neither", super, bypass)
	}
	var owned int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tableowner = current_user`, schema).Scan(&owned); err != nil {
		t.Fatal(err)
	}
	if owned != 0 {
		t.Fatalf("application role owns %d tables", owned)
	}
	var unprotected []string
	rows, err := pool.Query(ctx, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind = 'r' AND NOT c.relrowsecurity AND c.relname <> 'human_schema_migrations'`, schema)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		_ = rows.Scan(&n)
		unprotected = append(unprotected, n)
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	if len(unprotected) > 0 {
		t.Fatalf("tables without row-level security: %v", unprotected)
	}
}

// TestAttackDueReturnsOnlyDueTasks: the one cross-org read (the timer
// sweep's SECURITY DEFINER function) returns due tasks and nothing else.
func TestAttackDueReturnsOnlyDueTasks(t *testing.T) {
	ctx := context.Background()
	app := openApp(t, newSchema(t))
	fillOrg(t, app, "acme")
	now := time.Now()
	st := app.Stores()
	if err := st.Tasks.Create(ctx, &workforce.Task{Spec: workforce.Spec{Org: "other"}, ID: "later", State: workforce.Pending,
		CreatedAt: now, Wake: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := st.Tasks.Create(ctx, &workforce.Task{Spec: workforce.Spec{Org: "other"}, ID: "idle", State: workforce.Approved, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	got, err := st.Tasks.Due(ctx, now, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Org != "acme" || got[0].ID != "t1" {
		t.Fatalf("Due = %v, want acme/t1 only", got)
	}
}
