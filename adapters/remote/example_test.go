package remote_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"
	"os"

	"github.com/humanos/human"
	"github.com/humanos/human/adapters/remote"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/server"
)

// An org enrolls on a server with open enrollment; the app then opens the
// same human.Client type it uses embedded, with only BaseURL and the admin
// key as configuration.
func ExampleEnroll() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "human-example-")
	defer os.RemoveAll(dir)
	srv, err := server.New(ctx, server.Config{OpenEnrollment: true, Library: human.Config{DataDir: dir, Store: "mem://"}})
	if err != nil {
		log.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer func() { hs.Close(); srv.Close() }()

	adminKey, _ := passport.GenerateEd25519() // kept by the org, e.g. in HUMAN_ORG_KEY_FILE
	if err := remote.Enroll(ctx, hs.URL, "acme", adminKey); err != nil {
		log.Fatal(err)
	}
	client, err := human.Open(ctx, human.Config{BaseURL: hs.URL, Org: "acme", OrgSigner: adminKey})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	fmt.Println("org:", client.Org())
	fmt.Println("ledger key known:", client.LedgerKey() != "")
	// Output:
	// org: acme
	// ledger key known: true
}
