// Package awskms is a passport.Signer whose private key never leaves AWS
// KMS: an org passport's key (ECC_NIST_P256, SIGN_VERIFY) signs
// delegations, org events and attestations through the KMS Sign API, and
// verifies as passport.SuiteES256 with nothing but the public key.
//
// It lives outside the core import graph (it pulls in aws-sdk-go-v2);
// import it only where an org key lives in KMS. Ledger checkpoints are
// signed notes and need an Ed25519 key: use a KMS signer for the org
// passport, not as the ledger's checkpoint signer.
package awskms

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
)

// DefaultTimeout bounds one KMS call made through the context-free
// passport.Signer interface.
const DefaultTimeout = 10 * time.Second

// Signer signs with an asymmetric KMS key of spec ECC_NIST_P256 and usage
// SIGN_VERIFY. It is safe for concurrent use.
type Signer struct {
	client *kms.Client
	keyID  string
	pub    passport.PublicKey
	// Timeout bounds each Sign call; zero means DefaultTimeout.
	Timeout time.Duration
}

var _ passport.Signer = (*Signer)(nil)

// New returns a Signer for keyID (a key ID, ARN or alias) after reading its
// public key from KMS. Errors: errs.ErrInvalidArgument when the key is not
// an ECC_NIST_P256 SIGN_VERIFY key, errs.ErrNotFound when KMS has no such
// key, errs.ErrPermissionDenied when access is denied, errs.ErrUnavailable
// for anything else (including a cancelled ctx).
func New(ctx context.Context, client *kms.Client, keyID string) (*Signer, error) {
	out, err := client.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(keyID)})
	if err != nil {
		return nil, mapErr(ctx, "get public key", err)
	}
	if out.KeySpec != types.KeySpecEccNistP256 || out.KeyUsage != types.KeyUsageTypeSignVerify {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "awskms: key %s is %s/%s, want ECC_NIST_P256/SIGN_VERIFY", keyID, out.KeySpec, out.KeyUsage)
	}
	parsed, err := x509.ParsePKIXPublicKey(out.PublicKey)
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "awskms: key %s: public key: %v", keyID, err)
	}
	ec, ok := parsed.(*ecdsa.PublicKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "awskms: key %s is not a P-256 key", keyID)
	}
	pub, err := passport.ES256PublicKey(ec)
	if err != nil {
		return nil, err
	}
	id := keyID
	if out.KeyId != nil {
		id = *out.KeyId // the ARN: stable even if keyID was an alias
	}
	return &Signer{client: client, keyID: id, pub: pub}, nil
}

// KeyID returns the ARN of the KMS key.
func (s *Signer) KeyID() string { return s.keyID }

// PublicKey implements passport.Signer.
func (s *Signer) PublicKey() passport.PublicKey { return s.pub }

// Sign implements passport.Signer: KMS signs SHA-256(message) with
// ECDSA_SHA_256 and returns an ASN.1 DER signature, which is what
// passport.SuiteES256 verifies.
func (s *Signer) Sign(message []byte) ([]byte, error) {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return s.SignContext(ctx, message)
}

// SignContext is Sign with a caller's context.
func (s *Signer) SignContext(ctx context.Context, message []byte) ([]byte, error) {
	digest := sha256.Sum256(message)
	out, err := s.client.Sign(ctx, &kms.SignInput{
		KeyId: aws.String(s.keyID), Message: digest[:],
		MessageType: types.MessageTypeDigest, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256,
	})
	if err != nil {
		return nil, mapErr(ctx, "sign", err)
	}
	// Never hand out a signature the public key does not verify.
	if err := s.pub.Verify(message, out.Signature); err != nil {
		return nil, errs.Errorf(errs.ErrUnavailable, "awskms: key %s returned a signature that does not verify: %v", s.keyID, err)
	}
	return out.Signature, nil
}

// Verify asks KMS itself to verify sig over message: nil when valid, an
// error wrapping errs.ErrUnauthenticated when not. Verification never needs
// KMS (passport.PublicKey.Verify does it offline); this is a cross-check.
func (s *Signer) Verify(ctx context.Context, message, sig []byte) error {
	digest := sha256.Sum256(message)
	out, err := s.client.Verify(ctx, &kms.VerifyInput{
		KeyId: aws.String(s.keyID), Message: digest[:], Signature: sig,
		MessageType: types.MessageTypeDigest, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256,
	})
	var invalid *types.KMSInvalidSignatureException
	switch {
	case errors.As(err, &invalid):
		return errs.Errorf(errs.ErrUnauthenticated, "awskms: signature does not verify under key %s", s.keyID)
	case err != nil:
		return mapErr(ctx, "verify", err)
	case !out.SignatureValid:
		return errs.Errorf(errs.ErrUnauthenticated, "awskms: signature does not verify under key %s", s.keyID)
	}
	return nil
}

// mapErr maps KMS errors to the error vocabulary, in one place.
func mapErr(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return errs.Errorf(errs.ErrUnavailable, "awskms: %s: %w", op, errors.Join(ctx.Err(), err))
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "NotFoundException":
			return errs.Errorf(errs.ErrNotFound, "awskms: %s: %v", op, err)
		case "AccessDeniedException", "DisabledException", "KMSInvalidStateException":
			return errs.Errorf(errs.ErrPermissionDenied, "awskms: %s: %v", op, err)
		case "InvalidKeyUsageException", "ValidationException", "UnsupportedOperationException":
			return errs.Errorf(errs.ErrInvalidArgument, "awskms: %s: %v", op, err)
		}
	}
	return errs.Errorf(errs.ErrUnavailable, "awskms: %s: %v", op, err)
}
