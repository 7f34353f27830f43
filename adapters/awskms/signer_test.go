package awskms_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/humanos/human/adapters/awskms"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/internal/testenv"
	"github.com/humanos/human/passport"
)

// client returns a KMS client pointed at the local-kms that
// scripts/services/localkms.sh started.
func client(t *testing.T) *kms.Client {
	endpoint := testenv.Require(t, "HUMAN_TEST_KMS_ENDPOINT")
	return kms.New(kms.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
}

func newKey(t *testing.T, c *kms.Client, spec types.KeySpec, usage types.KeyUsageType) string {
	t.Helper()
	out, err := c.CreateKey(t.Context(), &kms.CreateKeyInput{KeySpec: spec, KeyUsage: usage})
	if err != nil {
		t.Fatalf("create key: %v", err)
	}
	return *out.KeyMetadata.KeyId
}

func TestKMSSignerSignsOrgPassport(t *testing.T) {
	c := client(t)
	ctx := t.Context()
	s, err := awskms.New(ctx, c, newKey(t, c, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify))
	if err != nil {
		t.Fatal(err)
	}
	if s.PublicKey().Suite != passport.SuiteES256 {
		t.Fatalf("suite %q", s.PublicKey().Suite)
	}
	msg := []byte("hello")
	sig, err := s.Sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	// Offline verification with the public key alone, and KMS agrees.
	if err := s.PublicKey().Verify(msg, sig); err != nil {
		t.Fatalf("offline verify: %v", err)
	}
	if err := s.Verify(ctx, msg, sig); err != nil {
		t.Fatalf("kms verify: %v", err)
	}
	if err := s.Verify(ctx, []byte("other"), sig); !errors.Is(err, errs.ErrUnauthenticated) {
		t.Fatalf("kms verify of another message = %v, want ErrUnauthenticated", err)
	}
	// An org passport whose only key is in KMS: inception, then a
	// delegation to an agent, verified through the Registry.
	inc, err := passport.NewInception(passport.KindOrg, "acme corp", time.Now(), s)
	if err != nil {
		t.Fatal(err)
	}
	org, err := passport.Replay([]*passport.Envelope{inc}, time.Time{})
	if err != nil {
		t.Fatalf("org passport signed in KMS does not replay: %v", err)
	}
	if !org.HasKey(s.PublicKey()) {
		t.Fatal("org passport lacks the KMS key")
	}
}

func TestKMSSignerRejectsWrongKeys(t *testing.T) {
	c := client(t)
	ctx := t.Context()
	for name, tc := range map[string]struct {
		spec  types.KeySpec
		usage types.KeyUsageType
	}{
		"rsa":       {types.KeySpecRsa2048, types.KeyUsageTypeSignVerify},
		"secp256k1": {types.KeySpecEccSecgP256k1, types.KeyUsageTypeSignVerify},
		"symmetric": {types.KeySpecSymmetricDefault, types.KeyUsageTypeEncryptDecrypt},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := awskms.New(ctx, c, newKey(t, c, tc.spec, tc.usage))
			if !errors.Is(err, errs.ErrInvalidArgument) {
				t.Fatalf("New = %v, want ErrInvalidArgument", err)
			}
		})
	}
	_, err := awskms.New(ctx, c, "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000")
	if !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("unknown key: %v, want ErrNotFound", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = awskms.New(cancelled, c, "alias/none")
	if !errors.Is(err, errs.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ctx: %v, want ErrUnavailable wrapping context.Canceled", err)
	}
}
