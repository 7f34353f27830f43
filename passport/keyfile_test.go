package passport_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
)

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	es, _ := passport.GenerateES256()
	for name, s := range map[string]passport.Signer{"ed25519": mustKey(t), "es256": es} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name, "org.pem")
			if err := passport.WriteKeyFile(path, s); err != nil {
				t.Fatal(err)
			}
			if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
				t.Fatalf("mode %v", fi.Mode())
			}
			if err := passport.WriteKeyFile(path, s); !errors.Is(err, errs.ErrConflict) {
				t.Fatalf("overwrite: %v", err)
			}
			back, err := passport.LoadKeyFile(path)
			if err != nil || !back.PublicKey().Equal(s.PublicKey()) {
				t.Fatalf("load: %v", err)
			}
			env, _ := passport.Seal("application/x-test", []byte("x"), back)
			if err := env.VerifiedBy(s.PublicKey()); err != nil {
				t.Fatal(err)
			}
		})
	}
	if _, err := passport.LoadKeyFile(filepath.Join(dir, "none.pem")); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := passport.ParsePrivateKeyPEM([]byte("not pem")); !errors.Is(err, errs.ErrInvalidArgument) {
		t.Fatalf("garbage: %v", err)
	}
}
