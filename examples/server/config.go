package main

import (
	"context"
	"flag"

	"github.com/humanos/human"
)

// configFlags binds the library's configuration to flags on fs, defaulting
// each from its environment variable, so every command reads the same
// configuration the same way: flag over environment over built-in default.
func configFlags(fs *flag.FlagSet) *human.Config {
	cfg := human.ConfigFromEnv()
	fs.StringVar(&cfg.Org, "org", cfg.Org, "org namespace (env HUMAN_ORG; default \"default\")")
	fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "embedded data directory (env HUMAN_DATA_DIR; default ./human-data)")
	fs.StringVar(&cfg.Store, "store", cfg.Store, "store URL (env HUMAN_STORE; default sqlite in the data dir)")
	fs.StringVar(&cfg.Ledger, "ledger", cfg.Ledger, "separate ledger store URL (env HUMAN_LEDGER)")
	fs.StringVar(&cfg.Graph, "graph", cfg.Graph, "separate capability graph store URL (env HUMAN_GRAPH)")
	fs.StringVar(&cfg.Policies, "policies", cfg.Policies, "separate policy store URL (env HUMAN_POLICIES)")
	fs.StringVar(&cfg.BaseURL, "base-url", cfg.BaseURL, "remote HUMAN server (env HUMAN_BASE_URL)")
	fs.StringVar(&cfg.OrgKeyFile, "org-key-file", cfg.OrgKeyFile, "org signer key file (env HUMAN_ORG_KEY_FILE)")
	return &cfg
}

// openClient opens a client with the configuration bound by configFlags.
func openClient(ctx context.Context, cfg *human.Config) (*human.Client, error) {
	return human.Open(ctx, *cfg)
}
