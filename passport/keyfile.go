package passport

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"

	"github.com/humanos/human/errs"
)

// LoadKeyFile reads a local key file, the development signer for keys held
// outside any device or KMS: one PKCS #8 "PRIVATE KEY" PEM block holding an
// Ed25519 or ECDSA P-256 key. Errors: errs.ErrNotFound when the file does
// not exist, errs.ErrInvalidArgument when it holds no usable key,
// errs.ErrUnavailable when it cannot be read.
func LoadKeyFile(path string) (Signer, error) {
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, errs.Errorf(errs.ErrNotFound, "key file %s does not exist", path)
	case err != nil:
		return nil, errs.Errorf(errs.ErrUnavailable, "key file: %w", err)
	}
	return ParsePrivateKeyPEM(data)
}

// ParsePrivateKeyPEM decodes a PKCS #8 PEM private key (Ed25519 or P-256)
// into a Signer. Errors wrap errs.ErrInvalidArgument.
func ParsePrivateKeyPEM(data []byte) (Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "key file: no PRIVATE KEY PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "key file: %v", err)
	}
	switch k := k.(type) {
	case ed25519.PrivateKey:
		return NewEd25519Signer(k), nil
	case *ecdsa.PrivateKey:
		return NewES256Signer(k)
	}
	return nil, errs.Errorf(errs.ErrInvalidArgument, "key file: %T is neither Ed25519 nor P-256", k)
}

// WriteKeyFile writes the private key of s (an *Ed25519Signer or
// *ES256Signer) to path as PKCS #8 PEM with mode 0600, creating parent
// directories. It never overwrites: an existing file is errs.ErrConflict.
func WriteKeyFile(path string, s Signer) error {
	var priv any
	switch s := s.(type) {
	case *Ed25519Signer:
		priv = s.PrivateKey()
	case *ES256Signer:
		priv = s.PrivateKey()
	default:
		return errs.Errorf(errs.ErrInvalidArgument, "key file: cannot export a %T", s)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return errs.Errorf(errs.ErrInvalidArgument, "key file: %v", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return errs.Errorf(errs.ErrUnavailable, "key file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return errs.Errorf(errs.ErrConflict, "key file %s already exists", path)
	}
	if err != nil {
		return errs.Errorf(errs.ErrUnavailable, "key file: %w", err)
	}
	werr := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if serr := f.Sync(); werr == nil {
		werr = serr
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return errs.Errorf(errs.ErrUnavailable, "key file %s: %w", path, werr)
	}
	return nil
}
