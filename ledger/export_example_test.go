package ledger_test

import (
	"context"
	"fmt"
	"os"

	"github.com/humanos/human/adapters/memory"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
)

// Export a log as a C2SP tlog-tiles directory and verify it offline with
// only the published verifier key.
func ExampleVerifyExport() {
	ctx := context.Background()
	signer, _ := passport.GenerateEd25519()
	l, _ := ledger.Open(ctx, memory.NewLedgerStore(), "acme", signer, nil)
	defer l.Close()
	for i := range 300 {
		st, _ := ledger.NewStatement(ledger.PredicateDecision, map[string]any{"i": i}, ledger.SubjectFor("call", []byte{byte(i)}))
		p, _ := l.Attest(ctx, st)
		_, _ = p.Wait(ctx)
	}
	dir, _ := os.MkdirTemp("", "export")
	defer os.RemoveAll(dir)
	if _, err := l.Export(ctx, ledger.DirSink(dir), &ledger.ExportOptions{From: 260}); err != nil {
		fmt.Println(err)
		return
	}
	rep, err := ledger.VerifyExport(ctx, os.DirFS(dir), &ledger.VerifyExportOptions{VerifierKey: l.VerifierKey()})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("verified entries [%d, %d) of %s\n", rep.From, rep.Size, rep.Origin)
	// Output: verified entries [256, 300) of humanos.dev/ledger/acme
}
