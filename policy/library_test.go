package policy_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/humanos/human/adapters/memory"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/policy"
)

func TestLibraryPublishAndActive(t *testing.T) {
	ctx := context.Background()
	store := memory.NewPolicyStore()
	lib := policy.NewLibrary(store, mustEngine(t, nil))
	if _, err := lib.Active(ctx, "acme"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("Active before publish: %v", err)
	}
	p1, err := lib.Publish(ctx, "acme", "payments.yaml", []byte(paymentsYAML))
	if err != nil || p1.Version != 1 {
		t.Fatalf("Publish = %+v, %v", p1, err)
	}
	got, err := lib.Active(ctx, "acme")
	if err != nil || got.Version != 1 || got.Digest != p1.Digest {
		t.Fatalf("Active = %+v, %v", got, err)
	}
	if again, _ := lib.Active(ctx, "acme"); again != got {
		t.Errorf("Active did not serve the cached compiled policy")
	}
	// An invalid document stores nothing and changes nothing.
	if _, err := lib.Publish(ctx, "acme", "bad.yaml", []byte("policy: p\nrules:\n  - id: x\n    actions: [a]\n    effect: permit\n")); !errors.Is(err, errs.ErrInvalidArgument) {
		t.Fatalf("invalid publish: %v", err)
	}
	if _, err := lib.Publish(ctx, "acme", "bad.yaml", []byte("policy: p\nrules:\n  - id: x\n    actions: [a]\n    condition: nope\n    effect: allow\n")); !errors.Is(err, errs.ErrInvalidArgument) {
		t.Fatalf("publish with a bad condition: %v", err)
	}
	if n, _ := store.Latest(ctx, "acme"); n != 1 {
		t.Fatalf("invalid publishes stored versions: latest = %d", n)
	}
	p2, err := lib.Publish(ctx, "acme", "v2.yaml", []byte("policy: v2\nrules: []\n"))
	if err != nil || p2.Version != 2 {
		t.Fatalf("second publish = %+v, %v", p2, err)
	}
	if a, _ := lib.Active(ctx, "acme"); a.Version != 2 {
		t.Fatalf("Publish through this library did not take effect at once: active %d", a.Version)
	}
	// Roll back.
	if p, err := lib.Activate(ctx, "acme", 1); err != nil || p.Version != 1 {
		t.Fatalf("Activate 1 = %+v, %v", p, err)
	}
	if a, _ := lib.Active(ctx, "acme"); a.Version != 1 || a.Document.Name != "payments" {
		t.Fatalf("after roll-back active = %d", a.Version)
	}
	if _, err := lib.Activate(ctx, "acme", 9); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("Activate missing: %v", err)
	}
	if v, err := lib.Version(ctx, "acme", 2); err != nil || v.Document.Name != "v2" {
		t.Fatalf("Version 2 = %+v, %v", v, err)
	}
	// Another org sees none of it.
	if _, err := lib.Active(ctx, "other"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("other org: %v", err)
	}
	if _, err := lib.Publish(ctx, "", "x.yaml", []byte(paymentsYAML)); !errors.Is(err, errs.ErrInvalidArgument) {
		t.Fatalf("empty org: %v", err)
	}
}

func TestLibrarySeesOtherPublishers(t *testing.T) {
	ctx := context.Background()
	store := memory.NewPolicyStore()
	e := mustEngine(t, nil)
	fresh := policy.NewLibrary(store, e, policy.WithRefresh(0))
	cached := policy.NewLibrary(store, e, policy.WithRefresh(time.Hour))
	writer := policy.NewLibrary(store, e)
	if _, err := writer.Publish(ctx, "acme", "a.yaml", []byte("policy: a\nrules: []\n")); err != nil {
		t.Fatal(err)
	}
	if p, _ := cached.Active(ctx, "acme"); p.Version != 1 {
		t.Fatal(p.Version)
	}
	if _, err := writer.Publish(ctx, "acme", "b.yaml", []byte("policy: b\nrules: []\n")); err != nil {
		t.Fatal(err)
	}
	if p, _ := fresh.Active(ctx, "acme"); p.Version != 2 {
		t.Errorf("refresh 0: active %d, want 2", p.Version)
	}
	if p, _ := cached.Active(ctx, "acme"); p.Version != 1 {
		t.Errorf("refresh 1h: active %d, want the cached 1", p.Version)
	}
}

// TestAttackRowWrittenAroundLibrary: bytes put straight into the store are
// still parsed and type-checked before use; a broken row never evaluates.
func TestAttackRowWrittenAroundLibrary(t *testing.T) {
	ctx := context.Background()
	store := memory.NewPolicyStore()
	lib := policy.NewLibrary(store, mustEngine(t, nil), policy.WithRefresh(0))
	bad := []byte("policy: p\nrules:\n  - id: x\n    actions: [\"*\"]\n    condition: unknown_var\n    effect: allow\n")
	if err := store.PutVersion(ctx, "acme", 1, bad); err != nil {
		t.Fatal(err)
	}
	if err := store.SetActive(ctx, "acme", 1, 0); err != nil {
		t.Fatal(err)
	}
	if p, err := lib.Active(ctx, "acme"); !errors.Is(err, errs.ErrInvalidArgument) {
		t.Fatalf("Active over a broken row = %+v, %v; want ErrInvalidArgument", p, err)
	}
}

func TestLibraryCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	store := memory.NewPolicyStore()
	lib := policy.NewLibrary(store, mustEngine(t, nil))
	if _, err := lib.Publish(ctx, "acme", "p.yaml", []byte(paymentsYAML)); !errors.Is(err, errs.ErrUnavailable) {
		t.Fatalf("Publish: %v", err)
	}
	if _, err := lib.Active(ctx, "acme"); !errors.Is(err, errs.ErrUnavailable) {
		t.Fatalf("Active: %v", err)
	}
	if n, _ := store.Latest(context.Background(), "acme"); n != 0 {
		t.Fatalf("cancelled publish stored version %d", n)
	}
}
