package capability_test

import (
	"context"
	"errors"
	"testing"

	"github.com/humanos/human/adapters/memory"
	"github.com/humanos/human/capability"
	"github.com/humanos/human/errs"
)

// TestRolesResolution: roles reached through people, teams and the org all
// grant their capabilities; Holds, Holders and HolderLevels agree, and the
// answer cache follows role changes.
func TestRolesResolution(t *testing.T) {
	ctx := context.Background()
	g := capability.NewGraph(memory.NewGraphStore(), nil)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []capability.Node{
		{ID: "acme", Kind: capability.Org}, {ID: "ops", Kind: capability.Team}, {ID: "sre", Kind: capability.Team},
		{ID: "oncall", Kind: capability.Role}, {ID: "staff", Kind: capability.Role},
		{ID: "ann", Kind: capability.Human}, {ID: "ben", Kind: capability.Human}, {ID: "cat", Kind: capability.Human},
		{ID: "dan", Kind: capability.Human}, {ID: "bot", Kind: capability.Agent},
		{ID: "prod.deploy", Kind: capability.Capability}, {ID: "wiki.edit", Kind: capability.Capability},
	} {
		must(g.AddNode(ctx, "o", n))
	}
	for _, e := range []capability.Edge{
		{From: "ann", To: "oncall", Kind: capability.HasRole},                  // person -> role
		{From: "ben", To: "sre", Kind: capability.MemberOf},                    // person -> team -> team -> role
		{From: "sre", To: "ops", Kind: capability.MemberOf},                    //
		{From: "ops", To: "oncall", Kind: capability.HasRole},                  //
		{From: "cat", To: "acme", Kind: capability.MemberOf},                   // person -> org -> role
		{From: "acme", To: "staff", Kind: capability.HasRole},                  //
		{From: "bot", To: "oncall", Kind: capability.HasRole},                  // agents are never holders
		{From: "oncall", To: "prod.deploy", Kind: capability.Grants, Level: 2}, //
		{From: "dan", To: "prod.deploy", Kind: capability.Holds, Level: 5},
	} {
		must(g.AddEdge(ctx, "o", e))
	}
	must(g.AddEdge(ctx, "o", capability.Edge{From: "staff", To: "wiki.edit", Kind: capability.Grants}))

	hs, err := g.Holders(ctx, "o", "prod.deploy")
	must(err)
	want := map[string]string{
		"ann": "ann -has_role-> oncall -grants-> prod.deploy",
		"ben": "ben -member_of-> sre -member_of-> ops -has_role-> oncall -grants-> prod.deploy",
		"dan": "dan -holds-> prod.deploy",
	}
	if len(hs) != len(want) {
		t.Fatalf("Holders = %+v, want %v", hs, want)
	}
	lv, err := g.HolderLevels(ctx, "o", "prod.deploy")
	must(err)
	for i, h := range hs {
		if want[h.Subject] != h.Path.String() {
			t.Errorf("Holders path of %s = %q, want %q", h.Subject, h.Path, want[h.Subject])
		}
		if lv[i].Subject != h.Subject || lv[i].Level != h.Level {
			t.Errorf("HolderLevels[%d] = %+v, Holders says %+v", i, lv[i], h)
		}
		p, ok, err := g.Holds(ctx, "o", h.Subject, "prod.deploy")
		if err != nil || !ok || len(p) != len(h.Path) {
			t.Errorf("Holds(%s) = %q, %v, %v; Holders path %q", h.Subject, p, ok, err, h.Path)
		}
	}
	if _, ok, _ := g.Holds(ctx, "o", "cat", "prod.deploy"); ok {
		t.Error("cat holds prod.deploy")
	}
	if p, ok, _ := g.Holds(ctx, "o", "cat", "wiki.edit"); !ok || p.String() != "cat -member_of-> acme -has_role-> staff -grants-> wiki.edit" {
		t.Errorf("Holds(cat, wiki.edit) = %q, %v", p, ok)
	}
	// Revoking the team's role: the cached answer must follow.
	must(g.RemoveEdge(ctx, "o", "ops", capability.HasRole, "oncall"))
	lv, err = g.HolderLevels(ctx, "o", "prod.deploy")
	must(err)
	if len(lv) != 2 || lv[0].Subject != "ann" || lv[1].Subject != "dan" || lv[0].Level != 2 {
		t.Fatalf("HolderLevels after revoking ops' role = %+v", lv)
	}

	for _, bad := range []capability.Edge{
		{From: "ann", To: "prod.deploy", Kind: capability.Grants},   // only roles grant
		{From: "oncall", To: "ops", Kind: capability.MemberOf},      // roles are not members
		{From: "ann", To: "ops", Kind: capability.HasRole},          // has_role ends at a role
		{From: "oncall", To: "prod.deploy", Kind: capability.Holds}, // roles grant, they do not hold
	} {
		if err := g.AddEdge(ctx, "o", bad); !errors.Is(err, errs.ErrInvalidArgument) {
			t.Errorf("AddEdge(%+v) = %v, want ErrInvalidArgument", bad, err)
		}
	}
}
