package adaptertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/policy"
)

// RunPolicyStore runs the policy.Store conformance suite. newStore must
// return a fresh, empty store each time it is called; every subtest calls it.
func RunPolicyStore(t *testing.T, newStore func(t *testing.T) policy.Store) {
	t.Helper()
	ctx := context.Background()

	t.Run("NotFound", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.Version(ctx, "acme", 1); !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("Version of empty org: err = %v, want ErrNotFound", err)
		}
		if _, _, err := s.Active(ctx, "acme"); !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("Active of empty org: err = %v, want ErrNotFound", err)
		}
		if n, err := s.Latest(ctx, "acme"); err != nil || n != 0 {
			t.Errorf("Latest of empty org = %d, %v; want 0, nil", n, err)
		}
		if err := s.SetActive(ctx, "acme", 1, 0); !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("SetActive of missing version: err = %v, want ErrNotFound", err)
		}
		policyPut(t, s, "acme", 1, "v1")
		if _, err := s.Version(ctx, "acme", 2); !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("Version 2 when only 1 exists: err = %v, want ErrNotFound", err)
		}
		if _, _, err := s.Active(ctx, "acme"); !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("Active before any SetActive: err = %v, want ErrNotFound", err)
		}
		if err := s.SetActive(ctx, "acme", 7, 0); !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("SetActive of missing version 7: err = %v, want ErrNotFound", err)
		}
	})

	t.Run("InvalidArgument", func(t *testing.T) {
		s := newStore(t)
		cases := []struct {
			name string
			err  error
		}{
			{"PutVersion empty org", s.PutVersion(ctx, "", 1, []byte("x"))},
			{"PutVersion version 0", s.PutVersion(ctx, "acme", 0, []byte("x"))},
			{"PutVersion version -1", s.PutVersion(ctx, "acme", -1, []byte("x"))},
			{"Version version 0", policyErr2(s.Version(ctx, "acme", 0))},
			{"Version empty org", policyErr2(s.Version(ctx, "", 1))},
			{"Latest empty org", policyErr2(s.Latest(ctx, ""))},
			{"SetActive version 0", s.SetActive(ctx, "acme", 0, 0)},
			{"SetActive empty org", s.SetActive(ctx, "", 1, 0)},
		}
		for _, c := range cases {
			if !errors.Is(c.err, errs.ErrInvalidArgument) {
				t.Errorf("%s: err = %v, want ErrInvalidArgument", c.name, c.err)
			}
		}
		if n, _ := s.Latest(ctx, "acme"); n != 0 {
			t.Errorf("invalid calls stored something: Latest = %d", n)
		}
	})

	t.Run("ImmutableVersions", func(t *testing.T) {
		s := newStore(t)
		policyPut(t, s, "acme", 1, "first")
		if err := s.PutVersion(ctx, "acme", 1, []byte("second")); !errors.Is(err, errs.ErrConflict) {
			t.Fatalf("PutVersion over an existing version: err = %v, want ErrConflict", err)
		}
		if err := s.PutVersion(ctx, "acme", 1, []byte("first")); !errors.Is(err, errs.ErrConflict) {
			t.Fatalf("PutVersion of identical bytes over an existing version: err = %v, want ErrConflict", err)
		}
		got := policyGet(t, s, "acme", 1)
		if string(got) != "first" {
			t.Fatalf("Version 1 = %q after a refused overwrite, want %q", got, "first")
		}
		got[0] = 'X' // the caller's copy; the store must not change
		if again := policyGet(t, s, "acme", 1); string(again) != "first" {
			t.Fatalf("mutating a returned slice changed the store: %q", again)
		}
		in := []byte("third")
		policyPutBytes(t, s, "acme", 2, in)
		in[0] = 'X'
		if got := policyGet(t, s, "acme", 2); string(got) != "third" {
			t.Fatalf("mutating the slice given to PutVersion changed the store: %q", got)
		}
	})

	t.Run("OrderingAndLatest", func(t *testing.T) {
		s := newStore(t)
		for _, n := range []int{1, 2, 5, 3} {
			policyPut(t, s, "acme", n, fmt.Sprintf("v%d", n))
		}
		if n, err := s.Latest(ctx, "acme"); err != nil || n != 5 {
			t.Fatalf("Latest = %d, %v; want 5 (the highest, not the last written)", n, err)
		}
		for _, n := range []int{1, 2, 3, 5} {
			if got := policyGet(t, s, "acme", n); string(got) != fmt.Sprintf("v%d", n) {
				t.Errorf("Version %d = %q", n, got)
			}
		}
		if _, err := s.Version(ctx, "acme", 4); !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("Version 4 (a gap): err = %v, want ErrNotFound", err)
		}
		big := bytes.Repeat([]byte("policy: x\n"), 10000)
		policyPutBytes(t, s, "acme", 6, big)
		if got := policyGet(t, s, "acme", 6); !bytes.Equal(got, big) {
			t.Errorf("a 100 KB document did not round-trip")
		}
	})

	t.Run("ActiveCompareAndSwap", func(t *testing.T) {
		s := newStore(t)
		policyPut(t, s, "acme", 1, "v1")
		policyPut(t, s, "acme", 2, "v2")
		if err := s.SetActive(ctx, "acme", 1, 3); !errors.Is(err, errs.ErrConflict) {
			t.Fatalf("SetActive expecting 3 while none is active: err = %v, want ErrConflict", err)
		}
		if err := s.SetActive(ctx, "acme", 1, 0); err != nil {
			t.Fatalf("SetActive(1, expected 0): %v", err)
		}
		policyActive(t, s, "acme", 1, "v1")
		if err := s.SetActive(ctx, "acme", 2, 0); !errors.Is(err, errs.ErrConflict) {
			t.Fatalf("SetActive with stale expected 0: err = %v, want ErrConflict", err)
		}
		policyActive(t, s, "acme", 1, "v1")
		if err := s.SetActive(ctx, "acme", 2, 1); err != nil {
			t.Fatalf("SetActive(2, expected 1): %v", err)
		}
		policyActive(t, s, "acme", 2, "v2")
		if err := s.SetActive(ctx, "acme", 1, 2); err != nil {
			t.Fatalf("roll back SetActive(1, expected 2): %v", err)
		}
		policyActive(t, s, "acme", 1, "v1")
		if err := s.SetActive(ctx, "acme", 9, 1); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("SetActive of a missing version: err = %v, want ErrNotFound", err)
		}
		policyActive(t, s, "acme", 1, "v1")
	})

	t.Run("OrgIsolation", func(t *testing.T) {
		s := newStore(t)
		policyPut(t, s, "org-a", 1, "a1")
		policyPut(t, s, "org-a", 2, "a2")
		if err := s.SetActive(ctx, "org-a", 2, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Version(ctx, "org-b", 1); !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("org-b reads org-a's version: err = %v, want ErrNotFound", err)
		}
		if n, err := s.Latest(ctx, "org-b"); err != nil || n != 0 {
			t.Errorf("org-b Latest = %d, %v; want 0", n, err)
		}
		if _, _, err := s.Active(ctx, "org-b"); !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("org-b sees org-a's active policy: err = %v", err)
		}
		if err := s.SetActive(ctx, "org-b", 2, 0); !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("org-b activates org-a's version: err = %v, want ErrNotFound", err)
		}
		policyPut(t, s, "org-b", 1, "b1") // same number, other org: no conflict
		if err := s.SetActive(ctx, "org-b", 1, 0); err != nil {
			t.Fatal(err)
		}
		policyActive(t, s, "org-a", 2, "a2")
		policyActive(t, s, "org-b", 1, "b1")
		if got := policyGet(t, s, "org-a", 1); string(got) != "a1" {
			t.Errorf("org-a version 1 = %q after org-b wrote its version 1", got)
		}
		// Org names that share a prefix are still distinct orgs.
		if _, err := s.Version(ctx, "org-a2", 1); !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("org-a2 reads org-a: err = %v", err)
		}
	})

	t.Run("CancelledContext", func(t *testing.T) {
		s := newStore(t)
		policyPut(t, s, "acme", 1, "v1")
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		calls := []struct {
			name string
			err  error
		}{
			{"PutVersion", s.PutVersion(cctx, "acme", 2, []byte("v2"))},
			{"Version", policyErr2(s.Version(cctx, "acme", 1))},
			{"Latest", policyErr2(s.Latest(cctx, "acme"))},
			{"SetActive", s.SetActive(cctx, "acme", 1, 0)},
			{"Active", policyErr3(s.Active(cctx, "acme"))},
		}
		for _, c := range calls {
			if !errors.Is(c.err, errs.ErrUnavailable) || !errors.Is(c.err, context.Canceled) {
				t.Errorf("%s with a cancelled context: err = %v, want ErrUnavailable wrapping context.Canceled", c.name, c.err)
			}
		}
		if n, _ := s.Latest(ctx, "acme"); n != 1 {
			t.Errorf("cancelled PutVersion stored something: Latest = %d", n)
		}
		if _, _, err := s.Active(ctx, "acme"); !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("cancelled SetActive activated something: err = %v", err)
		}
	})

	t.Run("ConcurrentWriters", func(t *testing.T) {
		s := newStore(t)
		const writers = 8
		var wg sync.WaitGroup
		putErrs := make([]error, writers)
		for i := range writers {
			wg.Go(func() { putErrs[i] = s.PutVersion(ctx, "acme", 1, []byte(fmt.Sprintf("w%d", i))) })
		}
		wg.Wait()
		won := -1
		for i, err := range putErrs {
			switch {
			case err == nil && won >= 0:
				t.Fatalf("two writers both stored version 1 (%d and %d)", won, i)
			case err == nil:
				won = i
			case !errors.Is(err, errs.ErrConflict):
				t.Fatalf("writer %d: err = %v, want nil or ErrConflict", i, err)
			}
		}
		if won < 0 {
			t.Fatal("no writer stored version 1")
		}
		if got := policyGet(t, s, "acme", 1); string(got) != fmt.Sprintf("w%d", won) {
			t.Fatalf("version 1 = %q, but writer %d won", got, won)
		}
		for n := 2; n <= writers+1; n++ {
			policyPut(t, s, "acme", n, fmt.Sprintf("v%d", n))
		}
		// Every activator expects "none active"; exactly one may win.
		casErrs := make([]error, writers)
		for i := range writers {
			wg.Go(func() { casErrs[i] = s.SetActive(ctx, "acme", i+2, 0) })
		}
		wg.Wait()
		winners := 0
		for i, err := range casErrs {
			if err == nil {
				winners++
			} else if !errors.Is(err, errs.ErrConflict) {
				t.Fatalf("activator %d: err = %v, want nil or ErrConflict", i, err)
			}
		}
		if winners != 1 {
			t.Fatalf("%d activators won the same compare-and-swap, want 1", winners)
		}
	})

	t.Run("ConcurrentPublish", func(t *testing.T) {
		s := newStore(t)
		engine, err := policy.NewEngine(nil)
		if err != nil {
			t.Fatal(err)
		}
		libs := []*policy.Library{policy.NewLibrary(s, engine), policy.NewLibrary(s, engine)}
		const perLib = 5
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			versions = map[int]string{}
		)
		for li, lib := range libs {
			for j := range perLib {
				wg.Go(func() {
					name := fmt.Sprintf("lib%d-%d", li, j)
					src := fmt.Sprintf("policy: %s\nrules:\n  - id: r\n    actions: [\"*\"]\n    effect: allow\n", name)
					p, err := lib.Publish(ctx, "acme", name+".yaml", []byte(src))
					if err != nil {
						t.Errorf("Publish %s: %v", name, err)
						return
					}
					mu.Lock()
					defer mu.Unlock()
					if prev, dup := versions[p.Version]; dup {
						t.Errorf("Publish %s and %s both got version %d", prev, name, p.Version)
					}
					versions[p.Version] = name
				})
			}
		}
		wg.Wait()
		total := len(libs) * perLib
		if len(versions) != total {
			t.Fatalf("%d distinct versions for %d publishes", len(versions), total)
		}
		for n := 1; n <= total; n++ {
			name, ok := versions[n]
			if !ok {
				t.Fatalf("version %d missing among %v", n, versions)
			}
			got := policyGet(t, s, "acme", n)
			if !bytes.Contains(got, []byte("policy: "+name+"\n")) {
				t.Errorf("version %d holds %q, want the document of %s", n, got, name)
			}
		}
		// Versions activate in order, so the last one is active.
		if n, _, err := s.Active(ctx, "acme"); err != nil || n != total {
			t.Errorf("active = %d, %v; want %d", n, err, total)
		}
	})
}

func policyErr2[T any](_ T, err error) error { return err }

func policyErr3[T, U any](_ T, _ U, err error) error { return err }

func policyPut(t *testing.T, s policy.Store, org string, n int, doc string) {
	t.Helper()
	policyPutBytes(t, s, org, n, []byte(doc))
}

func policyPutBytes(t *testing.T, s policy.Store, org string, n int, doc []byte) {
	t.Helper()
	if err := s.PutVersion(context.Background(), org, n, doc); err != nil {
		t.Fatalf("PutVersion(%s, %d): %v", org, n, err)
	}
}

func policyGet(t *testing.T, s policy.Store, org string, n int) []byte {
	t.Helper()
	doc, err := s.Version(context.Background(), org, n)
	if err != nil {
		t.Fatalf("Version(%s, %d): %v", org, n, err)
	}
	return doc
}

func policyActive(t *testing.T, s policy.Store, org string, wantN int, wantDoc string) {
	t.Helper()
	n, doc, err := s.Active(context.Background(), org)
	if err != nil || n != wantN || string(doc) != wantDoc {
		t.Fatalf("Active(%s) = %d, %q, %v; want %d, %q", org, n, doc, err, wantN, wantDoc)
	}
}
