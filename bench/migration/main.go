// Command migration fills an org with a given number of attestations and
// capability-graph edges, so that `human export` and `human import` can be
// timed and their peak memory measured on a realistic state:
//
//	cd bench && go run ./migration -dir /tmp/src -attestations 100000 -edges 10000
//	go build -o /tmp/human ./examples/server   # from the module root
//	/usr/bin/time -v /tmp/human export --data-dir /tmp/src --out /tmp/bundle
//	/usr/bin/time -v /tmp/human import --data-dir /tmp/dst --org-key-file /tmp/src/keys/default.pem --in /tmp/bundle
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"sync"
	"time"

	"github.com/humanos/human"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
)

func main() {
	dir := flag.String("dir", "", "data directory to fill (embedded SQLite)")
	n := flag.Int("attestations", 100000, "attestations to append (capability changes count too)")
	edges := flag.Int("edges", 10000, "capability graph edges (grants to humans)")
	flag.Parse()
	if *dir == "" {
		log.Fatal("-dir is required")
	}
	ctx := context.Background()
	c, err := human.Open(ctx, human.Config{DataDir: *dir})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	// Humans with passports, each granted capabilities: every grant is an
	// edge and an attestation.
	const perHuman = 10
	var dids []string
	for i := 0; len(dids)*perHuman < *edges; i++ {
		k, err := passport.GenerateEd25519()
		if err != nil {
			log.Fatal(err)
		}
		inc, err := passport.NewInception(passport.KindHuman, fmt.Sprintf("human %d", i), time.Now(), k)
		if err != nil {
			log.Fatal(err)
		}
		p, err := c.RegisterPassport(ctx, inc)
		if err != nil {
			log.Fatal(err)
		}
		dids = append(dids, p.DID)
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := 0; i < *edges; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := c.Grant(ctx, dids[i/perHuman], fmt.Sprintf("cap.%d", i%perHuman)); err != nil {
				log.Fatal(err)
			}
		}()
	}
	wg.Wait()
	cp, _, err := c.Ledger().Checkpoint(ctx)
	if err != nil {
		log.Fatal(err)
	}
	// The rest are decision-like attestations, appended with group commit.
	rest := *n - int(cp.Size)
	pend := make([]*ledger.Pending, 0, 4096)
	for i := 0; i < rest; i++ {
		st, err := ledger.NewStatement(ledger.PredicateDecision,
			map[string]any{"org": c.Org(), "agent": dids[i%len(dids)], "action": "payments.send", "status": "allowed", "time": time.Now().UTC()},
			ledger.SubjectFor(fmt.Sprintf("invoice:%d", i), []byte(fmt.Sprint(i))))
		if err != nil {
			log.Fatal(err)
		}
		p, err := c.Ledger().Attest(ctx, st)
		if err != nil {
			log.Fatal(err)
		}
		pend = append(pend, p)
		if len(pend) == cap(pend) || i == rest-1 {
			for _, p := range pend {
				if _, err := p.Wait(ctx); err != nil {
					log.Fatal(err)
				}
			}
			pend = pend[:0]
		}
	}
	cp, _, err = c.Ledger().Checkpoint(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stdout, "filled %s: %d humans, %d edges, %d attestations in %s\n", *dir, len(dids), *edges, cp.Size, time.Since(start).Round(time.Millisecond))
}
