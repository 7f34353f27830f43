// Command localkms runs local-kms (github.com/nsmithuk/local-kms, an AWS
// KMS emulator) bound to 127.0.0.1: the upstream binary listens on every
// interface, and test servers here must stay on loopback.
//
// Usage: localkms -addr 127.0.0.1:0 -data DIR -ready FILE
// It writes the bound address to FILE once it is listening.
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"

	kms "github.com/nsmithuk/local-kms/src"
	"github.com/nsmithuk/local-kms/src/config"
	"github.com/nsmithuk/local-kms/src/data"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "loopback address to listen on")
	dir := flag.String("data", "", "data directory")
	ready := flag.String("ready", "", "file to write the bound address to")
	flag.Parse()
	config.AWSAccountId = "111122223333"
	config.AWSRegion = "us-east-1"
	config.DatabasePath, _ = filepath.Abs(*dir)
	db := data.NewDatabase(config.DatabasePath)
	defer db.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	if *ready != "" {
		if err := os.WriteFile(*ready, []byte(ln.Addr().String()), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	log.Fatal(http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kms.HandleRequest(w, r, db)
	})))
}
