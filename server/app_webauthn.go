package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/humanos/human"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/internal/wire"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/passport/passkey"
	"github.com/humanos/human/workforce"
)

// appSignInType is the payload type of the statement a passkey signs to
// sign in: the org, a fresh nonce and the origin, so a sign-in assertion
// is good for this one ceremony only.
const appSignInType = "application/vnd.humanos.inbox-signin+json"

// appCeremony is a WebAuthn ceremony in progress, bound to one session
// and used at most once.
type appCeremony struct {
	id, session, kind string
	org, name, task   string
	expires           time.Time
	env               *passport.Envelope // what the assertion must sign
	rp                *passkey.RelyingParty
	reg               *passkey.Registration
	cred              *passkey.Credential
}

func (a *app) startCeremony(c *appCeremony) string {
	now := a.s.now()
	c.id, c.expires = randomID(), now.Add(appCeremonyTTL)
	a.mu.Lock()
	if len(a.ceremonies) >= appMaxCeremonies {
		for id, o := range a.ceremonies {
			if now.After(o.expires) {
				delete(a.ceremonies, id)
			}
		}
		if len(a.ceremonies) >= appMaxCeremonies {
			clear(a.ceremonies)
		}
	}
	a.ceremonies[c.id] = c
	a.mu.Unlock()
	return c.id
}

// takeCeremony removes and returns the session's ceremony id of kind.
func (a *app) takeCeremony(id string, ss *appSession, kind string) (*appCeremony, error) {
	a.mu.Lock()
	c := a.ceremonies[id]
	if c != nil && c.session == ss.id && c.kind == kind {
		delete(a.ceremonies, id)
	} else {
		c = nil
	}
	a.mu.Unlock()
	if c == nil || a.s.now().After(c.expires) {
		return nil, errs.Errorf(errs.ErrFailedPrecondition, "this passkey request expired or was already used; start again")
	}
	return c, nil
}

// rp returns the relying party for origin.
func (a *app) rp(origin string) (*passkey.RelyingParty, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if rp := a.rps[origin]; rp != nil {
		return rp, nil
	}
	origins := a.cfg.Origins
	if len(origins) == 0 {
		origins = []string{origin}
	}
	rp, err := passkey.New(passkey.Config{RPID: a.cfg.RPID, RPName: "HUMAN", Origins: origins, Policy: a.cfg.Passkeys, Timeout: appCeremonyTTL})
	if err != nil {
		return nil, err
	}
	a.rps[origin] = rp
	return rp, nil
}

// requestOptions is the PublicKeyCredentialRequestOptionsJSON asking the
// passkey (one of credIDs, or any discoverable one) to sign challenge
// with user verification.
func (a *app) requestOptions(challenge []byte, credIDs ...string) json.RawMessage {
	type allow struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	}
	o := struct {
		Challenge        string  `json:"challenge"`
		RPID             string  `json:"rpId"`
		Timeout          int64   `json:"timeout"`
		UserVerification string  `json:"userVerification"`
		Allow            []allow `json:"allowCredentials"`
	}{base64.RawURLEncoding.EncodeToString(challenge), a.cfg.RPID, appCeremonyTTL.Milliseconds(), "required", []allow{}}
	for _, id := range credIDs {
		o.Allow = append(o.Allow, allow{"public-key", id})
	}
	b, _ := json.Marshal(o)
	return b
}

// appAssertion is the browser's PublicKeyCredential.toJSON() of an
// assertion.
type appAssertion struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Response struct {
		AuthenticatorData string `json:"authenticatorData"`
		ClientDataJSON    string `json:"clientDataJSON"`
		Signature         string `json:"signature"`
		UserHandle        string `json:"userHandle"`
	} `json:"response"`
}

// parseAppAssertion decodes an assertion credential: its credential id
// (base64url), the passport.WebAuthnAssertion and the signature counter.
// It verifies nothing. Errors wrap errs.ErrInvalidArgument.
func parseAppAssertion(data []byte) (string, *passport.WebAuthnAssertion, uint32, error) {
	var c appAssertion
	if len(data) > 16<<10 {
		return "", nil, 0, errs.Errorf(errs.ErrInvalidArgument, "passkey response too large")
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return "", nil, 0, errs.Errorf(errs.ErrInvalidArgument, "passkey response: %v", err)
	}
	dec := func(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "=")) }
	id, err1 := dec(c.ID)
	ad, err2 := dec(c.Response.AuthenticatorData)
	cd, err3 := dec(c.Response.ClientDataJSON)
	sig, err4 := dec(c.Response.Signature)
	if err := errors.Join(err1, err2, err3, err4); err != nil || c.Type != "public-key" || len(id) == 0 || len(id) > 1023 {
		return "", nil, 0, errs.Errorf(errs.ErrInvalidArgument, "passkey response: not a public-key assertion in toJSON() form")
	}
	raw, _ := json.Marshal(passport.WebAuthnAssertion{AuthenticatorData: ad, ClientDataJSON: cd, Signature: sig})
	as, err := passport.ParseWebAuthnAssertion(raw)
	if err != nil {
		return "", nil, 0, err
	}
	return base64.RawURLEncoding.EncodeToString(id), as, binary.BigEndian.Uint32(ad[33:37]), nil
}

// appDeferredSigner stands in for a passkey while an envelope is built:
// it names the key, and its placeholder signature is removed before the
// envelope's challenge goes to the browser.
type appDeferredSigner struct{ key passport.PublicKey }

func (d appDeferredSigner) PublicKey() passport.PublicKey { return d.key }
func (d appDeferredSigner) Sign([]byte) ([]byte, error)   { return []byte{0}, nil }

func unsigned(env *passport.Envelope, err error) (*passport.Envelope, error) {
	if err != nil {
		return nil, err
	}
	env.Signatures = nil
	return env, nil
}

type appJSONIn struct {
	Org        string          `json:"org,omitempty"`
	Name       string          `json:"name,omitempty"`
	Ceremony   string          `json:"ceremony,omitempty"`
	Credential json.RawMessage `json:"credential,omitempty"`
	Verdict    string          `json:"verdict,omitempty"`
	Digest     string          `json:"digest,omitempty"`
	Next       string          `json:"next,omitempty"`
}

func readAppJSON(r *http.Request) (*appJSONIn, error) {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "want application/json")
	}
	var in appJSONIn
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 32<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "request: %v", err)
	}
	return &in, nil
}

type appOptionsOut struct {
	Ceremony string          `json:"ceremony"`
	Options  json.RawMessage `json:"options"`
}

type appDoneOut struct {
	Next  string `json:"next"`
	State string `json:"state,omitempty"`
}

func (a *app) orgOf(in *appJSONIn) (string, error) {
	if err := human.ValidateOrg(in.Org); err != nil || !a.s.known(in.Org) {
		return "", errs.Errorf(errs.ErrNotFound, "there is no organisation %q on this server", in.Org)
	}
	return in.Org, nil
}

func (a *app) signinOptions(ctx context.Context, r *http.Request, ss *appSession, origin string) (any, error) {
	if err := a.allowSignIn(r); err != nil {
		return nil, err
	}
	in, err := readAppJSON(r)
	if err != nil {
		return nil, err
	}
	org, err := a.orgOf(in)
	if err != nil {
		return nil, err
	}
	payload, _ := json.Marshal(map[string]any{"org": org, "nonce": randomID(), "origin": origin, "created": a.s.now().UTC()})
	env := &passport.Envelope{PayloadType: appSignInType, Payload: payload}
	id := a.startCeremony(&appCeremony{session: ss.id, kind: "signin", org: org, env: env, name: safeNext(in.Next)})
	return appOptionsOut{id, a.requestOptions(env.Challenge())}, nil
}

func (a *app) signinFinish(ctx context.Context, w http.ResponseWriter, r *http.Request, ss *appSession, origin string) (any, error) {
	if err := a.allowSignIn(r); err != nil {
		return nil, err
	}
	in, err := readAppJSON(r)
	if err != nil {
		return nil, err
	}
	cer, err := a.takeCeremony(in.Ceremony, ss, "signin")
	if err != nil {
		return nil, err
	}
	credID, as, count, err := parseAppAssertion(in.Credential)
	if err != nil {
		return nil, err
	}
	denied := errs.Errorf(errs.ErrUnauthenticated, "this passkey is not registered for a person in %s", cer.org)
	known, ok := a.creds.get(credID)
	if !ok || known.Org != cer.org {
		return nil, denied
	}
	c, err := a.s.client(ctx, cer.org)
	if err != nil {
		return nil, err
	}
	pp, err := c.Passports().Get(ctx, cer.org, known.DID)
	if err != nil {
		if errs.Kind(err) == errs.ErrUnavailable {
			return nil, err
		}
		return nil, denied
	}
	key, err := passport.ParsePublicKey(known.Key)
	if err != nil || pp.Kind != passport.KindHuman || pp.Revoked || !pp.HasKey(key) {
		return nil, denied
	}
	if err := key.Verify(passport.PAE(cer.env.PayloadType, cer.env.Payload), as.Marshal()); err != nil {
		return nil, errs.Errorf(errs.ErrUnauthenticated, "the passkey's signature did not verify")
	}
	if err := a.creds.advance(credID, count); err != nil {
		return nil, err
	}
	next := a.newSession(w, r, &appSession{org: cer.org, did: pp.DID, name: pp.Name, credID: credID, key: key})
	a.dropOld(ss)
	_ = next
	return appDoneOut{Next: orDefault(cer.name, "/app/inbox")}, nil
}

func (a *app) dropOld(ss *appSession) {
	a.mu.Lock()
	delete(a.sessions, ss.id)
	a.mu.Unlock()
}

func (a *app) registerOptions(ctx context.Context, r *http.Request, ss *appSession, origin string) (any, error) {
	if err := a.allowSignIn(r); err != nil {
		return nil, err
	}
	if !a.cfg.OpenRegistration {
		return nil, errs.Errorf(errs.ErrPermissionDenied, "this server does not let people create passports from the web page; ask your organisation's administrator")
	}
	in, err := readAppJSON(r)
	if err != nil {
		return nil, err
	}
	org, err := a.orgOf(in)
	if err != nil {
		return nil, err
	}
	name := strings.TrimSpace(in.Name)
	if n := utf8.RuneCountInString(name); n == 0 || n > 64 || strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "your name must be 1 to 64 printable characters")
	}
	rp, err := a.rp(origin)
	if err != nil {
		return nil, err
	}
	reg, err := rp.BeginRegistration(name)
	if err != nil {
		return nil, err
	}
	id := a.startCeremony(&appCeremony{session: ss.id, kind: "register", org: org, name: name, rp: rp, reg: reg})
	return appOptionsOut{id, reg.Options}, nil
}

// registerFinish checks the new passkey and returns the request to sign
// the passport's inception with it: the passport exists only once the
// passkey itself has signed it.
func (a *app) registerFinish(ctx context.Context, r *http.Request, ss *appSession, origin string) (any, error) {
	in, err := readAppJSON(r)
	if err != nil {
		return nil, err
	}
	cer, err := a.takeCeremony(in.Ceremony, ss, "register")
	if err != nil {
		return nil, err
	}
	cred, err := cer.rp.FinishRegistration(cer.reg, in.Credential)
	if err != nil {
		return nil, err
	}
	env, err := unsigned(passport.NewInception(passport.KindHuman, cer.name, a.s.now(), appDeferredSigner{cred.Key}))
	if err != nil {
		return nil, err
	}
	credID := base64.RawURLEncoding.EncodeToString(cred.ID)
	id := a.startCeremony(&appCeremony{session: ss.id, kind: "inception", org: cer.org, name: cer.name, env: env, cred: cred})
	return appOptionsOut{id, a.requestOptions(env.Challenge(), credID)}, nil
}

func (a *app) registerSign(ctx context.Context, w http.ResponseWriter, r *http.Request, ss *appSession) (any, error) {
	in, err := readAppJSON(r)
	if err != nil {
		return nil, err
	}
	cer, err := a.takeCeremony(in.Ceremony, ss, "inception")
	if err != nil {
		return nil, err
	}
	credID, as, count, err := parseAppAssertion(in.Credential)
	if err != nil {
		return nil, err
	}
	if credID != base64.RawURLEncoding.EncodeToString(cer.cred.ID) {
		return nil, errs.Errorf(errs.ErrUnauthenticated, "signed with another passkey than the one just created")
	}
	if err := cer.env.AddAssertion(cer.cred.Key, as); err != nil {
		return nil, err
	}
	c, err := a.s.client(ctx, cer.org)
	if err != nil {
		return nil, err
	}
	pp, err := c.RegisterPassport(ctx, cer.env)
	if err != nil {
		return nil, err
	}
	if err := a.creds.put(credID, appCred{Org: cer.org, DID: pp.DID, Key: cer.cred.Key.String(), Count: count}); err != nil {
		return nil, err
	}
	a.newSession(w, r, &appSession{org: cer.org, did: pp.DID, name: pp.Name, credID: credID, key: cer.cred.Key})
	a.dropOld(ss)
	return appDoneOut{Next: "/app/inbox?new=1"}, nil
}

func (a *app) voteOptions(ctx context.Context, r *http.Request, ss *appSession, taskID string) (any, error) {
	in, err := readAppJSON(r)
	if err != nil {
		return nil, err
	}
	_, t, err := a.loadTask(ctx, ss, taskID)
	if err != nil {
		return nil, err
	}
	if !t.State.Open() {
		return nil, errs.Errorf(errs.ErrFailedPrecondition, "this request is already %s", appStateText(t.State))
	}
	if in.Digest != t.DigestHex() {
		return nil, errs.Errorf(errs.ErrFailedPrecondition, "the request changed since the page was loaded; reload it and read it again")
	}
	if in.Verdict != workforce.VerdictApprove && in.Verdict != workforce.VerdictDeny {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "choose approve or deny")
	}
	env, err := unsigned(workforce.SignVote(appDeferredSigner{ss.key}, ss.did, t, in.Verdict, a.s.now()))
	if err != nil {
		return nil, err
	}
	id := a.startCeremony(&appCeremony{session: ss.id, kind: "vote", org: ss.org, task: t.ID, env: env})
	return appOptionsOut{id, a.requestOptions(env.Challenge(), ss.credID)}, nil
}

func (a *app) voteFinish(ctx context.Context, r *http.Request, ss *appSession, taskID string) (any, error) {
	in, err := readAppJSON(r)
	if err != nil {
		return nil, err
	}
	cer, err := a.takeCeremony(in.Ceremony, ss, "vote")
	if err != nil {
		return nil, err
	}
	if cer.task != taskID || cer.org != ss.org {
		return nil, errs.Errorf(errs.ErrFailedPrecondition, "this passkey request was for another task")
	}
	credID, as, count, err := parseAppAssertion(in.Credential)
	if err != nil {
		return nil, err
	}
	if err := cer.env.AddAssertion(ss.key, as); err != nil {
		return nil, errs.Errorf(errs.ErrUnauthenticated, "the passkey's signature did not verify: nothing was recorded")
	}
	if err := a.creds.advance(credID, count); err != nil {
		return nil, err
	}
	c, err := a.s.client(ctx, ss.org)
	if err != nil {
		return nil, err
	}
	dec, err := c.Decide(ctx, taskID, cer.env)
	if err != nil {
		return nil, err
	}
	if dec.Receipt != nil {
		if err := human.VerifyReceipt(dec.Receipt, c.LedgerKey()); err != nil {
			return nil, err
		}
	}
	return appDoneOut{Next: "/app/tasks/" + taskID + "?done=1", State: string(dec.Task.State)}, nil
}

// safeNext keeps a post-sign-in redirect inside the app.
func safeNext(s string) string {
	if !strings.HasPrefix(s, "/app/") || strings.HasPrefix(s, "//") || strings.ContainsAny(s, "\\\r\n") {
		return ""
	}
	return s
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// json runs a JSON endpoint: {"error": "..."} with the status of the
// error's kind, or the value.
func (a *app) json(w http.ResponseWriter, r *http.Request, ss *appSession, f func(ctx context.Context) (any, error)) {
	out, err := f(r.Context())
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		p := wire.ProblemFromError(err)
		msg := err.Error()
		if p.Status >= 500 && errs.Kind(err) != errs.ErrUnavailable {
			a.s.log.Error("app internal error", "err", err)
			msg = "something went wrong on the server"
		}
		w.WriteHeader(p.Status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
		return
	}
	_ = json.NewEncoder(w).Encode(out)
}

// appCred is what the app remembers of a passkey: public facts only.
type appCred struct {
	Org   string `json:"org"`
	DID   string `json:"did"`
	Key   string `json:"key"`
	Count uint32 `json:"count"`
}

// appCredentials maps passkey credential ids to passports, so a
// discoverable passkey signs in without typing a name. It is persisted
// next to the server's orgs file.
type appCredentials struct {
	path   string
	mu     sync.Mutex
	loaded bool
	m      map[string]appCred
}

func newAppCredentials(dataDir string) *appCredentials {
	return &appCredentials{path: filepath.Join(dataDir, "server", "app-credentials.json"), m: map[string]appCred{}}
}

func (c *appCredentials) load() {
	if c.loaded {
		return
	}
	c.loaded = true
	if data, err := os.ReadFile(c.path); err == nil {
		_ = json.Unmarshal(data, &c.m)
	}
}

func (c *appCredentials) get(id string) (appCred, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.load()
	v, ok := c.m[id]
	return v, ok
}

func (c *appCredentials) put(id string, v appCred) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.load()
	c.m[id] = v
	return c.save()
}

// advance records a passkey's signature counter; a counter that does not
// grow (when the authenticator keeps one) suggests a cloned key.
func (c *appCredentials) advance(id string, count uint32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.load()
	v, ok := c.m[id]
	if !ok || (count == 0 && v.Count == 0) {
		return nil
	}
	if count <= v.Count {
		return errs.Errorf(errs.ErrPermissionDenied, "the passkey's signature counter went backwards; it may have been copied")
	}
	v.Count = count
	c.m[id] = v
	return c.save()
}

func (c *appCredentials) save() error {
	data, err := json.Marshal(c.m)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(c.path), 0o700); err != nil {
		return errs.Errorf(errs.ErrUnavailable, "app credentials: %w", err)
	}
	tmp := c.path + ".tmp"
	if err := os.WriteFile(tmp, bytes.TrimSpace(data), 0o600); err != nil {
		return errs.Errorf(errs.ErrUnavailable, "app credentials: %w", err)
	}
	if err := os.Rename(tmp, c.path); err != nil {
		return errs.Errorf(errs.ErrUnavailable, "app credentials: %w", err)
	}
	return nil
}
