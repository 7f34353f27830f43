package human

import (
	"context"
	"os"
	"sync"
	"time"

	"github.com/humanos/human/adapters/remote"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/internal/wire"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/policy"
	"github.com/humanos/human/workforce"
)

// remoteProfile is a Client's link to a HUMAN server (Config.BaseURL set):
// every public method of such a Client delegates to it, with the same
// signature, semantics and errors as the embedded profile.
type remoteProfile struct {
	c         *Client
	rc        *remote.Client
	ledgerKey string

	// engine evaluates candidate (shadow) policies on the client; built
	// on the first StartShadow.
	engineOnce sync.Once
	engine     *policy.Engine
	engineErr  error
}

// remotePoll is how long one long poll of Outcome.Wait lasts.
const remotePoll = 25 * time.Second

// openRemote opens a Client of a HUMAN server. The credential is the org's
// admin key: Config.OrgSigner, or the key in Config.OrgKeyFile (which must
// exist; it is never created for a remote server, which would not know it).
// The server is asked, once, for the org and the ledger's verifier key, so
// a wrong URL or credential fails here.
func openRemote(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Org == "" {
		cfg.Org = DefaultOrg
	}
	if err := ValidateOrg(cfg.Org); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	signer := cfg.OrgSigner
	if signer == nil {
		if cfg.OrgKeyFile == "" {
			return nil, errs.Errorf(errs.ErrInvalidArgument,
				"HUMAN_BASE_URL is set: set HUMAN_ORG_KEY_FILE (or Config.OrgSigner) to the org's admin key registered on the server")
		}
		if _, err := os.Stat(cfg.OrgKeyFile); err != nil {
			return nil, errs.Errorf(errs.ErrInvalidArgument, "org key file %s: %v", cfg.OrgKeyFile, err)
		}
		s, err := LoadOrCreateKeyFile(cfg.OrgKeyFile)
		if err != nil {
			return nil, err
		}
		signer = s
	}
	rc, err := remote.New(remote.Options{BaseURL: cfg.BaseURL, KeyID: remote.AdminKeyID(cfg.Org, signer.PublicKey()), Signer: signer, Now: cfg.Now})
	if err != nil {
		return nil, err
	}
	info, err := rc.Org(ctx)
	if err != nil {
		rc.Close()
		return nil, err
	}
	c := &Client{cfg: cfg, org: info.Org, now: cfg.Now, log: cfg.Logger, stop: make(chan struct{})}
	c.remote = &remoteProfile{c: c, rc: rc, ledgerKey: info.LedgerKey}
	c.closers = append(c.closers, rc.Close)
	return c, nil
}

// Resume returns the outcome of the call that opened approval task taskID:
// pending while the task is open (Wait on it), else resolved as Wait would
// resolve it. A process that restarted uses it to pick up a pending call;
// the server answers long polls with it. An unknown task is
// errs.ErrNotFound. The outcome's Decision is rebuilt from the task (rule,
// reason, policy version); the original call's receipts are not included.
func (c *Client) Resume(ctx context.Context, taskID string) (*Outcome, error) {
	if c.remote != nil {
		w, err := c.remote.rc.TaskOutcome(ctx, taskID, 0)
		if err != nil {
			return nil, err
		}
		return c.remote.outcome(w)
	}
	t, err := c.queue.Get(ctx, c.org, taskID)
	if err != nil {
		return nil, err
	}
	o := &Outcome{Status: Pending, Reason: t.Reason, Task: t, client: c,
		Decision: policy.Decision{Effect: policy.RequireApproval, Rule: t.Rule, Reason: t.Reason, PolicyVersion: t.PolicyVersion, PolicyDigest: t.DecisionDigest}}
	if t.State == workforce.Pending {
		return o, nil
	}
	return o.Wait(ctx)
}

// outcome decodes a wire outcome into one bound to this client.
func (r *remoteProfile) outcome(w *wire.Outcome) (*Outcome, error) {
	chain, err := w.Chain.PassportChain()
	if err != nil {
		return nil, err
	}
	return &Outcome{Status: Status(w.Status), Reason: w.Reason, Cause: w.Cause.Err(), Decision: w.Decision.PolicyDecision(),
		Chain: chain, Task: w.Task, Receipts: w.Receipts, client: r.c}, nil
}

func (r *remoteProfile) Call(ctx context.Context, req Request) (*Outcome, error) {
	if err := validateRequest(req); err != nil {
		return nil, err
	}
	now := r.c.now()
	w, err := r.rc.Call(ctx, wire.CallRequest{Agent: req.Agent, Delegation: req.Delegation, Action: req.Action, Resource: req.Resource, Attributes: req.Attributes})
	if err != nil {
		return nil, err
	}
	out, err := r.outcome(w)
	if err != nil {
		return nil, err
	}
	r.observeShadow(req, out, now)
	return out, nil
}

// wait long-polls the server until o's task resolves or ctx ends.
func (r *remoteProfile) wait(ctx context.Context, o *Outcome) (*Outcome, error) {
	for {
		w, err := r.rc.TaskOutcome(ctx, o.Task.ID, remotePoll)
		if err != nil {
			return o, err
		}
		if Status(w.Status) != Pending {
			final, err := r.outcome(w)
			if err != nil {
				return o, err
			}
			out := *o
			out.Status, out.Reason, out.Cause, out.Task = final.Status, final.Reason, final.Cause, final.Task
			out.Receipts = append(append([]*ledger.Receipt(nil), o.Receipts...), final.Receipts...)
			return &out, nil
		}
		if err := ctx.Err(); err != nil {
			return o, errs.Errorf(errs.ErrUnavailable, "waiting for task %s: %w", o.Task.ID, err)
		}
	}
}

func (r *remoteProfile) Decide(ctx context.Context, taskID string, vote *passport.Envelope) (*Decision, error) {
	d, err := r.rc.Decide(ctx, taskID, vote)
	if err != nil {
		return nil, err
	}
	return &Decision{Task: d.Task, Receipt: d.Receipt}, nil
}
