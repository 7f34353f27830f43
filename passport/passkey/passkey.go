// Package passkey runs the WebAuthn ceremonies (github.com/go-webauthn/webauthn)
// that bind passkeys to HUMAN passports: registration, whose credential
// public key becomes a human passport's device key, and assertion, by
// which the passkey signs passport events, delegations and approval votes.
//
// The signatures it produces are plain passport.SuiteWebAuthn signatures:
// verifying them later needs only the passport (package passport, no
// WebAuthn library). This package adds what only a live ceremony can check:
// the org's [Policy] (user verification, device-bound keys, authenticator
// AAGUIDs, attestation formats), the session challenge and the signature
// counter.
//
// A ceremony moves JSON between the server and the browser:
// Begin* returns the options (PublicKeyCredentialCreationOptionsJSON /
// RequestOptionsJSON, what PublicKeyCredential.parseCreationOptionsFromJSON
// reads), and Finish* takes the credential's toJSON() form.
package passkey

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
)

// Policy is what an org requires of the passkeys its humans register and
// use. The zero Policy accepts any passkey with user presence.
type Policy struct {
	// RequireUserVerification demands UV (PIN, biometrics) at registration
	// and in every assertion; the passport key records it, so even offline
	// verification rejects an assertion without UV.
	RequireUserVerification bool
	// RequireDeviceBound rejects backup-eligible and backed-up (synced)
	// credentials: the key must never leave the authenticator.
	RequireDeviceBound bool
	// AllowedAAGUIDs, when not empty, is the allow-list of authenticator
	// models (AAGUIDs, e.g. "ee882879-721c-4913-9775-3dfcce97072a").
	AllowedAAGUIDs []string
	// AttestationFormats, when not empty, are the attestation statement
	// formats accepted at registration ("none", "packed", "tpm",
	// "android-key", "apple", "fido-u2f", ...). Statements are verified by
	// go-webauthn; without a metadata service their roots are not checked
	// against a trust list.
	AttestationFormats []string
}

// Config configures a RelyingParty.
type Config struct {
	// RPID is the relying party ID (a domain, "localhost" in development).
	RPID string
	// RPName is shown by the authenticator. Default RPID.
	RPName string
	// Origins are the origins ceremonies may come from
	// ("https://app.example.com", "http://localhost:8080").
	Origins []string
	// Policy is the org's passkey policy.
	Policy Policy
	// Timeout bounds each ceremony. Default five minutes.
	Timeout time.Duration
}

// RelyingParty runs the ceremonies for one RP ID under one Policy. It is
// safe for concurrent use; ceremony state lives in the values it returns.
type RelyingParty struct {
	wa     *webauthn.WebAuthn
	rpID   string
	policy Policy
	aaguid []uuid.UUID
}

// New returns a RelyingParty. Errors wrap errs.ErrInvalidArgument.
func New(cfg Config) (*RelyingParty, error) {
	if cfg.RPName == "" {
		cfg.RPName = cfg.RPID
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Minute
	}
	var allowed []uuid.UUID
	for _, s := range cfg.Policy.AllowedAAGUIDs {
		u, err := uuid.Parse(s)
		if err != nil {
			return nil, errs.Errorf(errs.ErrInvalidArgument, "passkey policy: AAGUID %q: %v", s, err)
		}
		allowed = append(allowed, u)
	}
	uv := protocol.VerificationPreferred
	if cfg.Policy.RequireUserVerification {
		uv = protocol.VerificationRequired
	}
	conveyance := protocol.PreferNoAttestation
	if len(cfg.Policy.AttestationFormats) > 0 && !slices.Equal(cfg.Policy.AttestationFormats, []string{"none"}) {
		conveyance = protocol.PreferDirectAttestation
	}
	wcfg := &webauthn.Config{
		RPID: cfg.RPID, RPDisplayName: cfg.RPName, RPOrigins: cfg.Origins,
		AttestationPreference: conveyance,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey: protocol.ResidentKeyRequirementPreferred, UserVerification: uv,
		},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: cfg.Timeout, TimeoutUVD: cfg.Timeout},
			Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: cfg.Timeout, TimeoutUVD: cfg.Timeout},
		},
		Filtering: &webauthn.FilteringConfig{ProhibitBackupEligibility: cfg.Policy.RequireDeviceBound, PermittedAAGUIDs: allowed},
	}
	wa, err := webauthn.New(wcfg)
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "passkey: %v", err)
	}
	// The RP ID must also be one a passport key can carry.
	if _, err := passport.NewWebAuthnKey(p256Generator, cfg.RPID, false); err != nil {
		return nil, err
	}
	return &RelyingParty{wa: wa, rpID: cfg.RPID, policy: cfg.Policy, aaguid: allowed}, nil
}

// p256Generator is the P-256 base point, a valid point to check an RP ID with.
var p256Generator = mustHex("046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5")

// user is the go-webauthn view of a passkey holder.
type user struct {
	id    []byte
	name  string
	creds []webauthn.Credential
}

func (u *user) WebAuthnID() []byte                         { return u.id }
func (u *user) WebAuthnName() string                       { return u.name }
func (u *user) WebAuthnDisplayName() string                { return u.name }
func (u *user) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// Registration is a registration ceremony in progress: send Options to the
// browser, keep the Registration (it holds the challenge) until the
// response arrives.
type Registration struct {
	// Options is the PublicKeyCredentialCreationOptions JSON for the browser.
	Options json.RawMessage
	user    *user
	session webauthn.SessionData
}

// BeginRegistration starts registering a new passkey for a human named
// name (a label for the authenticator; the passport's identity is its DID).
func (rp *RelyingParty) BeginRegistration(name string) (*Registration, error) {
	id := make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		return nil, errs.Errorf(errs.ErrUnavailable, "passkey: %v", err)
	}
	u := &user{id: id, name: name}
	opts := []webauthn.RegistrationOption{
		// ES256 only: the passport suite for passkeys is P-256.
		webauthn.WithCredentialParameters([]protocol.CredentialParameter{{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgES256}}),
	}
	if len(rp.policy.AttestationFormats) > 0 {
		var formats []protocol.AttestationFormat
		for _, f := range rp.policy.AttestationFormats {
			formats = append(formats, protocol.AttestationFormat(f))
		}
		opts = append(opts, webauthn.WithAttestationFormats(formats))
	}
	creation, session, err := rp.wa.BeginRegistration(u, opts...)
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "passkey registration: %v", err)
	}
	raw, err := json.Marshal(creation.Response)
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "passkey registration: %v", err)
	}
	return &Registration{Options: raw, user: u, session: *session}, nil
}

// Credential is a registered passkey: its passport key and what later
// ceremonies need. Persist it with the human's device (the library keeps
// only public material).
type Credential struct {
	// Key is the passport.SuiteWebAuthn key: use it in NewInception (via
	// a Signer), AddDevice or RotateKeys.
	Key passport.PublicKey
	// ID is the WebAuthn credential ID.
	ID []byte
	// AAGUID names the authenticator model.
	AAGUID uuid.UUID
	// Format is the attestation statement format of the registration.
	Format string
	// BackupEligible and BackedUp are the credential's backup flags.
	BackupEligible, BackedUp bool
	// UserVerified reports UV at registration.
	UserVerified bool
	// SignCount is the authenticator's last signature counter.
	SignCount uint32

	cred webauthn.Credential
	uid  []byte
}

// FinishRegistration verifies the browser's response (the credential's
// toJSON() form) and the org's policy, and returns the credential. Errors:
// errs.ErrUnauthenticated when the response does not verify (challenge,
// origin, RP ID, signature, attestation), errs.ErrPermissionDenied when the
// passkey violates the policy, errs.ErrInvalidArgument when malformed.
func (rp *RelyingParty) FinishRegistration(reg *Registration, response []byte) (*Credential, error) {
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "passkey registration: %v", protocolDetail(err))
	}
	cred, err := rp.wa.CreateCredential(reg.user, reg.session, parsed)
	if err != nil {
		if isPolicy(err) {
			return nil, errs.Errorf(errs.ErrPermissionDenied, "passkey registration: %v", protocolDetail(err))
		}
		return nil, errs.Errorf(errs.ErrUnauthenticated, "passkey registration: %v", protocolDetail(err))
	}
	if err := rp.checkPolicy(cred); err != nil {
		return nil, err
	}
	point, err := es256Point(cred.PublicKey)
	if err != nil {
		return nil, err
	}
	key, err := passport.NewWebAuthnKey(point, rp.rpID, rp.policy.RequireUserVerification)
	if err != nil {
		return nil, err
	}
	aaguid, _ := uuid.FromBytes(cred.Authenticator.AAGUID)
	return &Credential{
		Key: key, ID: cred.ID, AAGUID: aaguid, Format: cred.AttestationFormat,
		BackupEligible: cred.Flags.BackupEligible, BackedUp: cred.Flags.BackupState,
		UserVerified: cred.Flags.UserVerified, SignCount: cred.Authenticator.SignCount,
		cred: *cred, uid: reg.user.id,
	}, nil
}

// checkPolicy re-checks the policy on the credential itself, so a change
// in the library's defaults cannot loosen it.
func (rp *RelyingParty) checkPolicy(cred *webauthn.Credential) error {
	p := rp.policy
	if p.RequireUserVerification && !cred.Flags.UserVerified {
		return errs.Errorf(errs.ErrPermissionDenied, "passkey policy: user verification required")
	}
	if p.RequireDeviceBound && (cred.Flags.BackupEligible || cred.Flags.BackupState) {
		return errs.Errorf(errs.ErrPermissionDenied, "passkey policy: device-bound keys required; this credential can be synced (backup eligible)")
	}
	if len(rp.aaguid) > 0 {
		got, err := uuid.FromBytes(cred.Authenticator.AAGUID)
		if err != nil || !slices.Contains(rp.aaguid, got) {
			return errs.Errorf(errs.ErrPermissionDenied, "passkey policy: authenticator %x is not on the AAGUID allow-list", cred.Authenticator.AAGUID)
		}
	}
	if len(p.AttestationFormats) > 0 && !slices.Contains(p.AttestationFormats, cred.AttestationFormat) {
		return errs.Errorf(errs.ErrPermissionDenied, "passkey policy: attestation format %q is not accepted (accepted: %q)", cred.AttestationFormat, p.AttestationFormats)
	}
	return nil
}

// es256Point extracts the uncompressed P-256 point of a COSE ES256 key.
func es256Point(cose []byte) ([]byte, error) {
	pk, err := webauthncose.ParsePublicKey(cose)
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "passkey: credential public key: %v", err)
	}
	ec, ok := pk.(webauthncose.EC2PublicKeyData)
	if !ok || ec.Algorithm != int64(webauthncose.AlgES256) || ec.Curve != 1 || len(ec.XCoord) != 32 || len(ec.YCoord) != 32 {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "passkey: credential key is not ES256 on P-256")
	}
	return append(append([]byte{4}, ec.XCoord...), ec.YCoord...), nil
}

// Assertion is an assertion ceremony in progress over one challenge.
type Assertion struct {
	// Options is the PublicKeyCredentialRequestOptions JSON for the browser.
	Options json.RawMessage
	session webauthn.SessionData
}

// BeginAssertion asks cred to sign challenge: for an envelope,
// env.Challenge() (the SHA-256 of its PAE), so the assertion is the
// signature of exactly that event, certificate or vote.
func (rp *RelyingParty) BeginAssertion(cred *Credential, challenge []byte) (*Assertion, error) {
	if len(challenge) != 32 {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "passkey assertion: challenge of %d bytes, want a 32-byte hash", len(challenge))
	}
	uv := protocol.VerificationPreferred
	if rp.policy.RequireUserVerification {
		uv = protocol.VerificationRequired
	}
	u := &user{id: cred.uid, creds: []webauthn.Credential{cred.cred}}
	a, session, err := rp.wa.BeginLogin(u, webauthn.WithChallenge(challenge), webauthn.WithUserVerification(uv))
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "passkey assertion: %v", protocolDetail(err))
	}
	raw, err := json.Marshal(a.Response)
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "passkey assertion: %v", err)
	}
	return &Assertion{Options: raw, session: *session}, nil
}

// FinishAssertion verifies the browser's response (toJSON() of the
// credential) against the ceremony and the policy, advances cred's
// signature counter, and returns the assertion to attach to the envelope
// (passport.Envelope.AddAssertion). Errors: errs.ErrUnauthenticated when
// it does not verify, errs.ErrPermissionDenied for a policy violation or a
// signature counter that went backwards (a cloned authenticator),
// errs.ErrInvalidArgument when malformed.
func (rp *RelyingParty) FinishAssertion(cred *Credential, a *Assertion, response []byte) (*passport.WebAuthnAssertion, error) {
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "passkey assertion: %v", protocolDetail(err))
	}
	u := &user{id: cred.uid, creds: []webauthn.Credential{cred.cred}}
	got, err := rp.wa.ValidateLogin(u, a.session, parsed)
	if err != nil {
		if isPolicy(err) {
			return nil, errs.Errorf(errs.ErrPermissionDenied, "passkey assertion: %v", protocolDetail(err))
		}
		return nil, errs.Errorf(errs.ErrUnauthenticated, "passkey assertion: %v", protocolDetail(err))
	}
	if got.Authenticator.CloneWarning {
		return nil, errs.Errorf(errs.ErrPermissionDenied, "passkey assertion: signature counter went backwards; the authenticator may be cloned")
	}
	flags := parsed.Response.AuthenticatorData.Flags
	if rp.policy.RequireDeviceBound && (flags.HasBackupEligible() || flags.HasBackupState()) {
		return nil, errs.Errorf(errs.ErrPermissionDenied, "passkey policy: device-bound keys required")
	}
	cred.cred = *got
	cred.SignCount = got.Authenticator.SignCount
	raw := parsed.Raw.AssertionResponse
	return &passport.WebAuthnAssertion{
		AuthenticatorData: bytes.Clone(raw.AuthenticatorData),
		ClientDataJSON:    bytes.Clone(raw.ClientDataJSON),
		Signature:         bytes.Clone(raw.Signature),
	}, nil
}

// Signer returns a passport.Signer that signs with cred through full
// assertion ceremonies: for each message it begins an assertion over
// WebAuthnChallenge(message), hands the options JSON to ask (the browser,
// phone or virtual authenticator), and verifies the response it returns.
// Use it with passport.NewInception, passport.Delegate, workforce.SignVote.
func (rp *RelyingParty) Signer(cred *Credential, ask func(options []byte) (response []byte, err error)) passport.Signer {
	return &passport.WebAuthnSigner{Key: cred.Key, Assert: func(challenge []byte) (*passport.WebAuthnAssertion, error) {
		a, err := rp.BeginAssertion(cred, challenge)
		if err != nil {
			return nil, err
		}
		resp, err := ask(a.Options)
		if err != nil {
			return nil, fmt.Errorf("passkey: authenticator: %w", err)
		}
		return rp.FinishAssertion(cred, a, resp)
	}}
}

func isPolicy(err error) bool {
	var pe *protocol.Error
	if e, ok := err.(*protocol.Error); ok {
		pe = e
	}
	return pe != nil && pe.Type == protocol.ErrPolicyRestriction.Type
}

func protocolDetail(err error) string {
	if e, ok := err.(*protocol.Error); ok {
		return fmt.Sprintf("%s: %s %s", e.Type, e.Details, e.DevInfo)
	}
	return err.Error()
}
