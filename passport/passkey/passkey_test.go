package passkey_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"
	"github.com/google/uuid"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/passport/passkey"
)

var vrp = virtualwebauthn.RelyingParty{Name: "Acme", ID: "example.com", Origin: "https://example.com"}

func newRP(t testing.TB, p passkey.Policy) *passkey.RelyingParty {
	t.Helper()
	rp, err := passkey.New(passkey.Config{RPID: "example.com", Origins: []string{"https://example.com"}, Policy: p})
	if err != nil {
		t.Fatal(err)
	}
	return rp
}

// device is a virtual authenticator holding one credential.
type device struct {
	auth virtualwebauthn.Authenticator
	cred virtualwebauthn.Credential
}

func newDevice(opts virtualwebauthn.AuthenticatorOptions) *device {
	return &device{auth: virtualwebauthn.NewAuthenticatorWithOptions(opts), cred: fullWidthCredential()}
}

// fullWidthCredential makes a P-256 credential whose X and Y coordinates
// both have a non-zero first byte. virtualwebauthn v1.0.3 encodes the
// coordinates with big.Int.Bytes, dropping leading zero bytes, so about one
// key in 128 would produce a COSE key that go-webauthn (rightly) rejects.
func fullWidthCredential() virtualwebauthn.Credential {
	for {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		if len(k.X.Bytes()) != 32 || len(k.Y.Bytes()) != 32 {
			continue
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			panic(err)
		}
		return virtualwebauthn.NewCredentialWithImportedKey(virtualwebauthn.KeyTypeEC2, der)
	}
}

func (d *device) register(t testing.TB, rp *passkey.RelyingParty) (*passkey.Credential, error) {
	t.Helper()
	reg, err := rp.BeginRegistration("alice")
	if err != nil {
		t.Fatal(err)
	}
	opts, err := virtualwebauthn.ParseAttestationOptions(string(reg.Options))
	if err != nil {
		t.Fatal(err)
	}
	resp := virtualwebauthn.CreateAttestationResponse(vrp, d.auth, d.cred, *opts)
	c, err := rp.FinishRegistration(reg, []byte(resp))
	if err == nil {
		d.auth.AddCredential(d.cred)
	}
	return c, err
}

func (d *device) answer(t testing.TB) func([]byte) ([]byte, error) {
	return func(options []byte) ([]byte, error) {
		opts, err := virtualwebauthn.ParseAssertionOptions(string(options))
		if err != nil {
			return nil, err
		}
		d.cred.Counter++
		return []byte(virtualwebauthn.CreateAssertionResponse(vrp, d.auth, d.cred, *opts)), nil
	}
}

// The registration ceremony yields a device key; the passkey then signs
// the human's inception, and later a vote, through assertion ceremonies.
func TestRegisterThenSignInception(t *testing.T) {
	rp := newRP(t, passkey.Policy{RequireUserVerification: true})
	d := newDevice(virtualwebauthn.AuthenticatorOptions{})
	cred, err := d.register(t, rp)
	if err != nil {
		t.Fatalf("registration: %v", err)
	}
	if cred.Key.Suite != passport.SuiteWebAuthn || !cred.UserVerified {
		t.Fatalf("credential %+v", cred)
	}
	signer := rp.Signer(cred, d.answer(t))
	inc, err := passport.NewInception(passport.KindHuman, "alice", time.Now(), signer)
	if err != nil {
		t.Fatal(err)
	}
	p, err := passport.Replay([]*passport.Envelope{inc}, time.Time{})
	if err != nil {
		t.Fatalf("passkey inception does not verify: %v", err)
	}
	if !p.HasKey(cred.Key) {
		t.Fatal("the credential key is not the device key")
	}
	vote, err := passport.Seal("application/x-vote", []byte("approve"), signer)
	if err != nil {
		t.Fatal(err)
	}
	if err := vote.VerifiedBy(cred.Key); err != nil {
		t.Fatalf("vote: %v", err)
	}
	if cred.SignCount != 2 {
		t.Fatalf("sign count %d, want 2", cred.SignCount)
	}
}

func TestPolicy(t *testing.T) {
	known := virtualwebauthn.NewAuthenticator()
	knownAAGUID := uuid.UUID(known.Aaguid).String()
	cases := []struct {
		name   string
		policy passkey.Policy
		opts   virtualwebauthn.AuthenticatorOptions
		aaguid *[16]byte
		want   error
	}{
		{"no UV when required", passkey.Policy{RequireUserVerification: true}, virtualwebauthn.AuthenticatorOptions{UserNotVerified: true}, nil, errs.ErrUnauthenticated},
		{"no UV, not required", passkey.Policy{}, virtualwebauthn.AuthenticatorOptions{UserNotVerified: true}, nil, nil},
		{"synced key when device-bound required", passkey.Policy{RequireDeviceBound: true}, virtualwebauthn.AuthenticatorOptions{BackupEligible: true, BackupState: true}, nil, errs.ErrPermissionDenied},
		{"backup eligible when device-bound required", passkey.Policy{RequireDeviceBound: true}, virtualwebauthn.AuthenticatorOptions{BackupEligible: true}, nil, errs.ErrPermissionDenied},
		{"synced key allowed", passkey.Policy{}, virtualwebauthn.AuthenticatorOptions{BackupEligible: true, BackupState: true}, nil, nil},
		{"AAGUID not on the allow-list", passkey.Policy{AllowedAAGUIDs: []string{knownAAGUID}}, virtualwebauthn.AuthenticatorOptions{}, nil, errs.ErrPermissionDenied},
		{"AAGUID on the allow-list", passkey.Policy{AllowedAAGUIDs: []string{knownAAGUID}}, virtualwebauthn.AuthenticatorOptions{}, &known.Aaguid, nil},
		{"attestation format not accepted", passkey.Policy{AttestationFormats: []string{"tpm", "apple"}}, virtualwebauthn.AuthenticatorOptions{}, nil, errs.ErrPermissionDenied},
		{"attestation format packed accepted", passkey.Policy{AttestationFormats: []string{"packed"}}, virtualwebauthn.AuthenticatorOptions{}, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rp := newRP(t, tc.policy)
			d := newDevice(tc.opts)
			if tc.aaguid != nil {
				d.auth.Aaguid = *tc.aaguid
			}
			_, err := d.register(t, rp)
			if tc.want == nil && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// Attacks on the assertion ceremony: an answer to another challenge, a
// response from another passkey, a cloned authenticator.
func TestAttackAssertion(t *testing.T) {
	rp := newRP(t, passkey.Policy{})
	d := newDevice(virtualwebauthn.AuthenticatorOptions{})
	cred, err := d.register(t, rp)
	if err != nil {
		t.Fatal(err)
	}
	env, _ := passport.Seal("application/x-vote", []byte("approve"))
	other, _ := passport.Seal("application/x-vote", []byte("deny"))

	t.Run("response to another challenge", func(t *testing.T) {
		a, _ := rp.BeginAssertion(cred, env.Challenge())
		b, _ := rp.BeginAssertion(cred, other.Challenge())
		resp, _ := d.answer(t)(b.Options)
		_, err := rp.FinishAssertion(cred, a, resp)
		if !errors.Is(err, errs.ErrUnauthenticated) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("another passkey", func(t *testing.T) {
		thief := newDevice(virtualwebauthn.AuthenticatorOptions{})
		thief.cred.ID = d.cred.ID // claims the victim's credential ID
		thief.auth.AddCredential(thief.cred)
		a, _ := rp.BeginAssertion(cred, env.Challenge())
		resp, _ := thief.answer(t)(a.Options)
		_, err := rp.FinishAssertion(cred, a, resp)
		if !errors.Is(err, errs.ErrUnauthenticated) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("assertion attached to another envelope", func(t *testing.T) {
		a, _ := rp.BeginAssertion(cred, env.Challenge())
		resp, _ := d.answer(t)(a.Options)
		got, err := rp.FinishAssertion(cred, a, resp)
		if err != nil {
			t.Fatal(err)
		}
		if err := other.AddAssertion(cred.Key, got); !errors.Is(err, errs.ErrUnauthenticated) {
			t.Fatalf("replayed onto another envelope: %v", err)
		}
	})
	t.Run("cloned authenticator", func(t *testing.T) {
		clone := *d
		clone.cred.Counter = 0 // behind the counter the server has seen
		clone.auth.Credentials = nil
		clone.auth.AddCredential(clone.cred)
		a, _ := rp.BeginAssertion(cred, env.Challenge())
		resp, _ := clone.answer(t)(a.Options)
		_, err := rp.FinishAssertion(cred, a, resp)
		if !errors.Is(err, errs.ErrPermissionDenied) && !errors.Is(err, errs.ErrUnauthenticated) {
			t.Fatalf("got %v", err)
		}
	})
}
