package neo4j_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"testing"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/humanos/human/adapters"
	"github.com/humanos/human/adapters/adaptertest"
	humanneo4j "github.com/humanos/human/adapters/neo4j"
	"github.com/humanos/human/capability"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/internal/testenv"
)

// testDriver connects to the Neo4j that scripts/services/neo4j.sh started.
func testDriver(t testing.TB) neo4j.DriverWithContext {
	t.Helper()
	uri := testenv.Require(t, "HUMAN_TEST_NEO4J_URL")
	d, err := neo4j.NewDriverWithContext(uri, neo4j.NoAuth())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	return d
}

func freshNamespace() string {
	var r [6]byte
	rand.Read(r[:])
	return "t-" + hex.EncodeToString(r[:])
}

// newStore returns a Store in a fresh namespace of the shared test server.
func newStore(t testing.TB, d neo4j.DriverWithContext) *humanneo4j.Store {
	t.Helper()
	s, err := humanneo4j.Open(context.Background(), d, &humanneo4j.Options{Namespace: freshNamespace()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestGraphStoreConformance(t *testing.T) {
	d := testDriver(t)
	adaptertest.RunGraphStore(t, func(t *testing.T) capability.Store { return newStore(t, d) })
}

// TestURL opens the graph through the registry, with both schemes.
func TestURL(t *testing.T) {
	u, err := url.Parse(testenv.Require(t, "HUMAN_TEST_NEO4J_URL"))
	if err != nil {
		t.Fatal(err)
	}
	for _, scheme := range []string{"bolt", "neo4j"} {
		t.Run(scheme, func(t *testing.T) {
			ctx := context.Background()
			st, err := adapters.Open(ctx, scheme+"://"+u.Host+"?namespace="+freshNamespace())
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			g := capability.NewGraph(st.Graph, nil)
			if err := g.AddNode(ctx, "acme", capability.Node{ID: "did:key:alice", Kind: capability.Human}); err != nil {
				t.Fatal(err)
			}
			if err := g.AddNode(ctx, "acme", capability.Node{ID: "pay", Kind: capability.Capability}); err != nil {
				t.Fatal(err)
			}
			if err := g.Grant(ctx, "acme", "did:key:alice", "pay"); err != nil {
				t.Fatal(err)
			}
			if ok, err := g.HasCapability(ctx, "acme", "did:key:alice", "pay"); err != nil || !ok {
				t.Fatalf("HasCapability = %v, %v", ok, err)
			}
		})
	}
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want error
	}{
		{"neo4j://h:7687", nil},
		{"bolt://u:p@h:7687?database=x&namespace=y", nil},
		{"neo4j://h:7687?bogus=1", errs.ErrInvalidArgument},
		{"neo4j://h:7687?namespace=a&namespace=b", errs.ErrInvalidArgument},
		{"neo4j:opaque", errs.ErrInvalidArgument},
	} {
		u, err := url.Parse(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		_, _, _, err = humanneo4j.ParseURL(u)
		if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
			t.Errorf("ParseURL(%q) = %v, want %v", tc.url, err, tc.want)
		}
	}
}

// TestAttackNamespaceAndOrgIsolation: IDs crafted to collide with another
// org's or namespace's key never reach that org's nodes.
func TestAttackNamespaceAndOrgIsolation(t *testing.T) {
	ctx := context.Background()
	d := testDriver(t)
	ns := freshNamespace()
	a, _ := humanneo4j.Open(ctx, d, &humanneo4j.Options{Namespace: ns})
	b, _ := humanneo4j.Open(ctx, d, &humanneo4j.Options{Namespace: ns + "x"})
	if err := a.PutNode(ctx, "acme", capability.Node{ID: "n", Kind: capability.Human}); err != nil {
		t.Fatal(err)
	}
	for _, probe := range []struct {
		s       *humanneo4j.Store
		org, id string
	}{
		{a, "acm", "e4:n"}, {a, "acme4:", "n"}, {b, "acme", "n"}, {a, "4:acme", "n"},
	} {
		if _, err := probe.s.Node(ctx, probe.org, probe.id); !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("Node(%q, %q) = %v, want ErrNotFound", probe.org, probe.id, err)
		}
	}
}

// TestUnreachable maps a dead server to ErrUnavailable.
func TestUnreachable(t *testing.T) {
	_, err := adapters.Open(context.Background(), "bolt://127.0.0.1:1")
	if !errors.Is(err, errs.ErrUnavailable) {
		t.Fatalf("Open of a dead server: %v, want ErrUnavailable", err)
	}
}
