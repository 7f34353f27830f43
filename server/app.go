package server

// The approver's inbox: server-rendered pages under /app/ where a human
// creates a passport with a passkey, signs in with it, reads the approval
// tasks routed to them and approves or denies each with a WebAuthn
// assertion over the vote envelope. See docs/inbox.md.
//
// Security model, in one place:
//   - sessions live on the server; the browser holds an opaque id in an
//     HttpOnly, SameSite=Strict cookie (Secure and __Host- under TLS);
//     signing in replaces the session id (no fixation);
//   - every POST needs the session's CSRF token (X-CSRF-Token header for
//     JSON, a form field for the sign-out form), an Origin (when the
//     browser sends one) equal to the app's origin, and JSON endpoints
//     need Content-Type application/json;
//   - every response carries a strict Content-Security-Policy with no
//     inline script or style, frame-ancestors 'none' and no-store caching;
//   - the org of every read and write is the session's, fixed at sign-in;
//     a task of another org, or of this org but not routed to the human,
//     is "not found";
//   - a vote is a workforce vote envelope built here over the digest the
//     page showed, signed in the browser by a passkey assertion whose
//     challenge is the envelope's hash (user verification required) and
//     verified by Client.Decide with the passport's keys: the server
//     never signs for anyone, and a link alone never approves.

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/passport/passkey"
)

// AppConfig configures the approver's inbox served under /app/.
type AppConfig struct {
	// RPID is the WebAuthn relying party ID (the app's domain). Default
	// "localhost", which browsers treat as a secure context over http.
	RPID string
	// Origins are the origins the app is served from
	// ("https://approve.example.com"). Empty means development mode:
	// http://localhost:PORT, whatever the port, and nothing else.
	Origins []string
	// Passkeys is the org's passkey policy. User verification is always
	// required, whatever this says.
	Passkeys passkey.Policy
	// OpenRegistration lets anyone create a human passport in any
	// enrolled org from the web page. A new passport holds no capability
	// until an org admin grants one. When false the page refuses.
	OpenRegistration bool
	// SignInRate is each client address's sustained rate of sign-in and
	// registration requests per second; SignInBurst its burst. Defaults 0.5
	// and 20.
	SignInRate  float64
	SignInBurst int
	// SessionIdle and SessionMax bound a signed-in session. Defaults 30
	// minutes idle and 12 hours in all.
	SessionIdle, SessionMax time.Duration
}

//go:embed app_ui
var appUI embed.FS

// app is the state of the web inbox: sessions, ceremonies in progress,
// the passkey credential index and the sign-in rate limiter.
type app struct {
	s     *Server
	cfg   AppConfig
	pages *template.Template
	files http.Handler

	mu         sync.Mutex
	sessions   map[string]*appSession
	ceremonies map[string]*appCeremony
	rps        map[string]*passkey.RelyingParty // by origin
	creds      *appCredentials
	limits     *limiter
}

// appSession is one browser's session. Anonymous until signed in.
type appSession struct {
	id, csrf string
	org, did string
	name     string
	credID   string // base64url credential id used to sign in
	key      passport.PublicKey
	started  time.Time
	seen     time.Time
}

func (ss *appSession) signedIn() bool { return ss.did != "" }

// DID, Name and Org are what templates show of the session.
func (ss *appSession) DID() string  { return ss.did }
func (ss *appSession) Name() string { return ss.name }
func (ss *appSession) Org() string  { return ss.org }

const (
	appMaxSessions   = 1 << 16
	appMaxCeremonies = 1 << 14
	appCeremonyTTL   = 5 * time.Minute
	appAnonIdle      = 30 * time.Minute
)

func (s *Server) appHandler() http.Handler {
	s.appOnce.Do(func() { s.appState = newApp(s) })
	return s.appState
}

func newApp(s *Server) *app {
	cfg := s.cfg.App
	if cfg.RPID == "" {
		cfg.RPID = "localhost"
	}
	cfg.Passkeys.RequireUserVerification = true
	if cfg.SignInRate <= 0 {
		cfg.SignInRate = 0.5
	}
	if cfg.SignInBurst <= 0 {
		cfg.SignInBurst = 20
	}
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = 30 * time.Minute
	}
	if cfg.SessionMax <= 0 {
		cfg.SessionMax = 12 * time.Hour
	}
	static, _ := fs.Sub(appUI, "app_ui/static")
	a := &app{
		s: s, cfg: cfg,
		pages:    template.Must(template.New("").Funcs(appFuncs).ParseFS(appUI, "app_ui/*.html")),
		files:    http.StripPrefix("/app/static/", http.FileServerFS(static)),
		sessions: map[string]*appSession{}, ceremonies: map[string]*appCeremony{},
		rps:    map[string]*passkey.RelyingParty{},
		creds:  newAppCredentials(s.cfg.Library.DataDir),
		limits: newLimiter(cfg.SignInRate, cfg.SignInBurst, 0),
	}
	return a
}

// ServeHTTP sets the security headers, finds the session, checks CSRF on
// every POST and dispatches.
func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", appCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin") // no-referrer would make form posts send Origin: null
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	if a.secure(r) {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	if strings.HasPrefix(r.URL.Path, "/app/static/") {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			a.fail(w, r, nil, errs.Errorf(errs.ErrInvalidArgument, "method not allowed"))
			return
		}
		h.Set("Cache-Control", "no-cache")
		a.files.ServeHTTP(w, r)
		return
	}
	h.Set("Cache-Control", "no-store")
	origin, err := a.origin(r)
	if err != nil {
		a.fail(w, r, nil, err)
		return
	}
	ss := a.session(w, r)
	if r.Method == http.MethodPost {
		if err := a.checkCSRF(r, ss, origin); err != nil {
			a.fail(w, r, ss, err)
			return
		}
	} else if r.Method != http.MethodGet && r.Method != http.MethodHead {
		a.fail(w, r, ss, errs.Errorf(errs.ErrInvalidArgument, "method %s not allowed", r.Method))
		return
	}
	a.route(w, r, ss, origin)
}

// appCSP allows only the app's own script, style and fetches: no inline
// script or style, no framing, no plugins, forms post only to the app.
const appCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func (a *app) route(w http.ResponseWriter, r *http.Request, ss *appSession, origin string) {
	p := strings.TrimPrefix(r.URL.Path, "/app")
	get, post := r.Method != http.MethodPost, r.Method == http.MethodPost
	switch {
	case get && (p == "/" || p == ""):
		if ss.signedIn() {
			http.Redirect(w, r, "/app/inbox", http.StatusSeeOther)
		} else {
			http.Redirect(w, r, "/app/signin", http.StatusSeeOther)
		}
	case get && p == "/signin":
		a.render(w, r, ss, http.StatusOK, "signin", a.signinView(r))
	case get && p == "/register":
		a.render(w, r, ss, http.StatusOK, "register", a.signinView(r))
	case post && p == "/signin/options":
		a.json(w, r, ss, func(ctx context.Context) (any, error) { return a.signinOptions(ctx, r, ss, origin) })
	case post && p == "/signin/finish":
		a.json(w, r, ss, func(ctx context.Context) (any, error) { return a.signinFinish(ctx, w, r, ss, origin) })
	case post && p == "/register/options":
		a.json(w, r, ss, func(ctx context.Context) (any, error) { return a.registerOptions(ctx, r, ss, origin) })
	case post && p == "/register/finish":
		a.json(w, r, ss, func(ctx context.Context) (any, error) { return a.registerFinish(ctx, r, ss, origin) })
	case post && p == "/register/sign":
		a.json(w, r, ss, func(ctx context.Context) (any, error) { return a.registerSign(ctx, w, r, ss) })
	case post && p == "/signout":
		a.dropSession(w, r, ss)
		http.Redirect(w, r, "/app/signin", http.StatusSeeOther)
	case !ss.signedIn():
		if get {
			next := r.URL.Path
			if r.URL.RawQuery != "" {
				next += "?" + r.URL.RawQuery
			}
			q := url.Values{"next": {next}}
			if org := r.URL.Query().Get("org"); org != "" {
				q.Set("org", org)
			}
			http.Redirect(w, r, "/app/signin?"+q.Encode(), http.StatusSeeOther)
			return
		}
		a.fail(w, r, ss, errs.Errorf(errs.ErrUnauthenticated, "sign in first"))
	case get && p == "/inbox":
		a.inboxPage(w, r, ss)
	case get && p == "/history":
		a.historyPage(w, r, ss)
	case get && strings.HasPrefix(p, "/verify/"):
		a.verifyPage(w, r, ss, strings.TrimPrefix(p, "/verify/"))
	case get && strings.HasPrefix(p, "/tasks/"):
		a.taskPage(w, r, ss, strings.TrimPrefix(p, "/tasks/"))
	case post && strings.HasPrefix(p, "/tasks/") && strings.HasSuffix(p, "/vote/options"):
		id := strings.TrimSuffix(strings.TrimPrefix(p, "/tasks/"), "/vote/options")
		a.json(w, r, ss, func(ctx context.Context) (any, error) { return a.voteOptions(ctx, r, ss, id) })
	case post && strings.HasPrefix(p, "/tasks/") && strings.HasSuffix(p, "/vote/finish"):
		id := strings.TrimSuffix(strings.TrimPrefix(p, "/tasks/"), "/vote/finish")
		a.json(w, r, ss, func(ctx context.Context) (any, error) { return a.voteFinish(ctx, r, ss, id) })
	default:
		a.fail(w, r, ss, errs.Errorf(errs.ErrNotFound, "no page %s", r.URL.Path))
	}
}

// secure reports whether the app runs under TLS (directly, or behind a
// proxy for a configured https origin).
func (a *app) secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	for _, o := range a.cfg.Origins {
		if strings.HasPrefix(o, "https://") {
			return true
		}
	}
	return false
}

// origin returns the app origin this request is addressed to: one of the
// configured origins, or in development mode http://localhost:PORT.
func (a *app) origin(r *http.Request) (string, error) {
	if len(a.cfg.Origins) > 0 {
		scheme := "http"
		if a.secure(r) {
			scheme = "https"
		}
		want := scheme + "://" + r.Host
		for _, o := range a.cfg.Origins {
			if o == want {
				return o, nil
			}
		}
		if len(a.cfg.Origins) == 1 {
			return a.cfg.Origins[0], nil
		}
		return "", errs.Errorf(errs.ErrInvalidArgument, "host %q is not one of the app's origins", r.Host)
	}
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil || host != a.cfg.RPID || host != "localhost" || port == "" {
		return "", errs.Errorf(errs.ErrFailedPrecondition,
			"open the app at http://localhost:PORT, or configure its origins (App.Origins) to serve it on another host")
	}
	return "http://" + r.Host, nil
}

// cookieName is __Host- prefixed under TLS (bound to this host, path /,
// Secure), plain on http://localhost.
func (a *app) cookieName(r *http.Request) string {
	if a.secure(r) {
		return "__Host-human_session"
	}
	return "human_session"
}

func (a *app) setCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: a.cookieName(r), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: a.secure(r), SameSite: http.SameSiteStrictMode})
}

func randomID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// session returns the request's live session, starting an anonymous one
// (and setting its cookie) when there is none.
func (a *app) session(w http.ResponseWriter, r *http.Request) *appSession {
	now := a.s.now()
	if c, err := r.Cookie(a.cookieName(r)); err == nil {
		a.mu.Lock()
		ss := a.sessions[c.Value]
		if ss != nil && a.live(ss, now) {
			ss.seen = now
			a.mu.Unlock()
			return ss
		}
		delete(a.sessions, c.Value)
		a.mu.Unlock()
	}
	return a.newSession(w, r, nil)
}

func (a *app) live(ss *appSession, now time.Time) bool {
	if ss.signedIn() {
		return now.Sub(ss.seen) < a.cfg.SessionIdle && now.Sub(ss.started) < a.cfg.SessionMax
	}
	return now.Sub(ss.seen) < appAnonIdle
}

// newSession starts a session (signed in when from is set, replacing the
// old id so a planted cookie never becomes a signed-in session).
func (a *app) newSession(w http.ResponseWriter, r *http.Request, from *appSession) *appSession {
	now := a.s.now()
	ss := &appSession{id: randomID(), csrf: randomID(), started: now, seen: now}
	if from != nil {
		ss.org, ss.did, ss.name, ss.credID, ss.key = from.org, from.did, from.name, from.credID, from.key
	}
	a.mu.Lock()
	if len(a.sessions) >= appMaxSessions {
		for id, o := range a.sessions {
			if !a.live(o, now) || !o.signedIn() {
				delete(a.sessions, id)
			}
		}
	}
	a.sessions[ss.id] = ss
	a.mu.Unlock()
	a.setCookie(w, r, ss.id, 0)
	return ss
}

func (a *app) dropSession(w http.ResponseWriter, r *http.Request, ss *appSession) {
	a.mu.Lock()
	delete(a.sessions, ss.id)
	a.mu.Unlock()
	a.setCookie(w, r, "", -1)
}

// checkCSRF admits a POST only with the session's token, from the app's
// own origin.
func (a *app) checkCSRF(r *http.Request, ss *appSession, origin string) error {
	if o := r.Header.Get("Origin"); o != "" && o != origin {
		return errs.Errorf(errs.ErrPermissionDenied, "cross-origin request from %q refused", o)
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return errs.Errorf(errs.ErrPermissionDenied, "cross-site request refused")
	}
	token := r.Header.Get("X-CSRF-Token")
	if token == "" && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		r.Body = http.MaxBytesReader(nil, r.Body, 4096)
		token = r.PostFormValue("csrf")
	}
	if token == "" || subtle.ConstantTimeCompare([]byte(token), []byte(ss.csrf)) != 1 {
		return errs.Errorf(errs.ErrPermissionDenied, "missing or wrong CSRF token: reload the page and try again")
	}
	return nil
}

// allowSignIn rate-limits sign-in and registration by client address.
func (a *app) allowSignIn(r *http.Request) error {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	release, err := a.limits.acquire("app-signin "+host, a.s.now())
	if err != nil {
		return errs.Errorf(errs.ErrUnavailable, "too many sign-in attempts from this address; wait a minute and try again")
	}
	release()
	return nil
}
