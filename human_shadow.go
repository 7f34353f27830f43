package human

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/policy"
)

// ShadowConfig is the shadow profile: a second deployment (typically the
// one an org is migrating to, after `human import`) on which every Call
// is evaluated again, without being enforced, so that an operator can see
// it decides the same before cutting over.
//
// The shadow is read-only: it verifies the agent's delegation chain,
// checks the scope and evaluates the active policy, and nothing more. It
// opens no approval task, charges no budget, attests nothing and runs no
// background sweep, so its stores and its ledger stay exactly what the
// import wrote and a later re-import (to catch up with state changed on
// the primary meanwhile) still applies.
//
// Shadow evaluation is asynchronous and bounded: Call pays for one
// non-blocking queue send, and a call that finds the queue full is not
// compared (counted as dropped).
type ShadowConfig struct {
	// Config opens the shadow deployment: an embedded profile (Store,
	// Ledger, Graph, Policies, DataDir, OrgKeyFile). Org defaults to the
	// primary's org, Now and Logger to the primary's. A hosted shadow
	// (BaseURL) is errs.ErrFailedPrecondition: a server has no read-only
	// evaluation route. Config.Shadow must be nil.
	Config Config
	// Queue is how many calls may wait for shadow evaluation. Default 1024.
	Queue int
	// Workers is how many calls are evaluated at once. Default 1.
	Workers int
	// Samples is how many recent divergences ShadowReport keeps. Default 20.
	Samples int
	// Timeout bounds one shadow evaluation. Default 5s.
	Timeout time.Duration
	// Registerer, when set, gets the shadow's Prometheus metrics:
	// human_shadow_calls_total{result} (agreed, diverged, limit_decided,
	// failed, dropped) and human_shadow_divergences_total{kind} (effect,
	// rule, approval).
	Registerer prometheus.Registerer
}

// ShadowConfigFromEnv returns the shadow profile named by the environment,
// or nil when none is: HUMAN_SHADOW_STORE, HUMAN_SHADOW_LEDGER,
// HUMAN_SHADOW_GRAPH, HUMAN_SHADOW_POLICIES, HUMAN_SHADOW_DATA_DIR and
// HUMAN_SHADOW_ORG_KEY_FILE mean what their HUMAN_ counterparts mean, for
// the shadow deployment. ConfigFromEnv calls it.
func ShadowConfigFromEnv() *ShadowConfig {
	c := Config{
		Store:      os.Getenv("HUMAN_SHADOW_STORE"),
		Ledger:     os.Getenv("HUMAN_SHADOW_LEDGER"),
		Graph:      os.Getenv("HUMAN_SHADOW_GRAPH"),
		Policies:   os.Getenv("HUMAN_SHADOW_POLICIES"),
		DataDir:    os.Getenv("HUMAN_SHADOW_DATA_DIR"),
		OrgKeyFile: os.Getenv("HUMAN_SHADOW_ORG_KEY_FILE"),
	}
	if c.Store+c.Ledger+c.Graph+c.Policies+c.DataDir+c.OrgKeyFile == "" {
		return nil
	}
	return &ShadowConfig{Config: c}
}

// Divergence kinds, as counted in ShadowReport.ByKind and the
// human_shadow_divergences_total metric.
const (
	// DivergedEffect: allow, deny and require approval differ.
	DivergedEffect = "effect"
	// DivergedRule: the deciding rule differs.
	DivergedRule = "rule"
	// DivergedApproval: the approval requirement (capability, quorum,
	// timeout) differs.
	DivergedApproval = "approval"
)

// ShadowDecision is one side of a comparison.
type ShadowDecision struct {
	Effect   policy.Effect
	Rule     string
	Approval *policy.Approval `json:",omitempty"`
	Reason   string
}

// ShadowDivergence is one call the shadow decided differently.
type ShadowDivergence struct {
	Time                    time.Time
	Agent, Action, Resource string
	Kinds                   []string
	Primary, Shadow         ShadowDecision
}

// ShadowReport is what the shadow profile has seen since the client opened.
type ShadowReport struct {
	// Enabled is false when the client has no shadow profile.
	Enabled bool
	// Observed counts the calls handed to the shadow (Compared + Failed +
	// still queued); Dropped those not handed because the queue was full.
	Observed, Dropped uint64
	// Compared counts finished comparisons: Agreed + Diverged + LimitDecided.
	Compared, Agreed, Diverged uint64
	// LimitDecided counts calls the primary denied on a budget limit that
	// the shadow's policy also carries: budgets are charged on the primary
	// only, so these agree on the rule but are not compared further.
	LimitDecided uint64
	// Failed counts shadow evaluations that returned an error (a shadow
	// store unreachable, the timeout).
	Failed uint64
	// ByKind counts divergences by kind (DivergedEffect, DivergedRule,
	// DivergedApproval); a call can diverge in several.
	ByKind map[string]uint64
	// Recent are the latest divergences, oldest first.
	Recent []ShadowDivergence
}

// Zero reports whether every observed call was compared and agreed: no
// divergence, no failure, nothing dropped, nothing still queued.
func (r ShadowReport) Zero() bool {
	return r.Enabled && r.Diverged == 0 && r.Failed == 0 && r.Dropped == 0 && r.Observed == r.Compared
}

type shadowItem struct {
	req     Request
	primary ShadowDecision
	now     time.Time
}

// shadowRunner evaluates calls on the shadow client in the background.
type shadowRunner struct {
	c       *Client // the shadow deployment (read-only use)
	log     *slog.Logger
	queue   chan shadowItem
	stop    chan struct{}
	done    sync.WaitGroup
	timeout time.Duration
	samples int
	pending atomic.Int64

	calls       *prometheus.CounterVec
	divergences *prometheus.CounterVec

	mu     sync.Mutex
	report ShadowReport
}

// openShadowed opens the primary client and its shadow (Open calls it
// when cfg.Shadow is set).
func openShadowed(ctx context.Context, cfg Config) (*Client, error) {
	sc := *cfg.Shadow
	cfg.Shadow = nil
	if sc.Config.BaseURL != "" {
		return nil, errs.Errorf(errs.ErrFailedPrecondition,
			"shadow profile: a hosted shadow (BaseURL) is not supported; shadow evaluation must be read-only: point the shadow at the destination's stores")
	}
	if sc.Config.Shadow != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "shadow profile: a shadow cannot have a shadow")
	}
	c, err := Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	sh := sc.Config
	if sh.Org == "" {
		sh.Org = c.org
	}
	if sh.Now == nil {
		sh.Now = c.now
	}
	if sh.Logger == nil {
		sh.Logger = c.log
	}
	sh.shadowOnly = true
	s, err := Open(ctx, sh)
	if err != nil {
		c.Close()
		return nil, errs.Errorf(kindOf(err), "shadow profile: %w", err)
	}
	log := c.log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &shadowRunner{c: s, log: log, queue: make(chan shadowItem, cmpOr(sc.Queue, 1024)), stop: make(chan struct{}),
		timeout: cmpOrDur(sc.Timeout, 5*time.Second), samples: cmpOr(sc.Samples, 20)}
	r.report.Enabled = true
	r.report.ByKind = map[string]uint64{}
	if sc.Registerer != nil {
		r.calls = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "human_shadow_calls_total",
			Help: "Calls handed to the shadow profile, by result (agreed, diverged, limit_decided, failed, dropped)."}, []string{"result"})
		r.divergences = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "human_shadow_divergences_total",
			Help: "Calls the shadow profile decided differently, by kind (effect, rule, approval)."}, []string{"kind"})
		for _, col := range []prometheus.Collector{r.calls, r.divergences} {
			if err := sc.Registerer.Register(col); err != nil {
				s.Close()
				c.Close()
				return nil, errs.Errorf(errs.ErrInvalidArgument, "shadow profile: metrics: %v", err)
			}
		}
	}
	for range cmpOr(sc.Workers, 1) {
		r.done.Add(1)
		go r.run()
	}
	c.shadowRun = r
	c.closers = append(c.closers, r.close)
	return c, nil
}

func cmpOr(v, d int) int {
	if v <= 0 {
		return d
	}
	return v
}

func cmpOrDur(v, d time.Duration) time.Duration {
	if v <= 0 {
		return d
	}
	return v
}

// kindOf keeps the error kind of err for a wrapped message.
func kindOf(err error) error {
	for _, k := range []error{errs.ErrNotFound, errs.ErrConflict, errs.ErrInvalidArgument, errs.ErrUnauthenticated,
		errs.ErrPermissionDenied, errs.ErrFailedPrecondition, errs.ErrUnavailable} {
		if errors.Is(err, k) {
			return k
		}
	}
	return errs.ErrUnavailable
}

// observe hands a finished call to the shadow without blocking.
func (r *shadowRunner) observe(req Request, out *Outcome, now time.Time) {
	req.Attributes = maps.Clone(req.Attributes) // the caller may reuse its map
	it := shadowItem{req: req, now: now, primary: summarize(out.Decision)}
	r.pending.Add(1)
	select {
	case r.queue <- it:
		r.mu.Lock()
		r.report.Observed++
		r.mu.Unlock()
	default:
		r.pending.Add(-1)
		r.mu.Lock()
		r.report.Dropped++
		r.mu.Unlock()
		if r.calls != nil {
			r.calls.WithLabelValues("dropped").Inc()
		}
	}
}

func summarize(d policy.Decision) ShadowDecision {
	s := ShadowDecision{Effect: d.Effect, Rule: d.Rule, Reason: d.Reason}
	if d.Approval != nil {
		a := *d.Approval
		s.Approval = &a
	}
	return s
}

func (r *shadowRunner) run() {
	defer r.done.Done()
	for {
		select {
		case it := <-r.queue:
			r.compare(it)
		case <-r.stop:
			for { // finish what was queued before Close
				select {
				case it := <-r.queue:
					r.compare(it)
				default:
					return
				}
			}
		}
	}
}

func (r *shadowRunner) compare(it shadowItem) {
	defer r.pending.Add(-1)
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	d, err := r.c.evaluate(ctx, it.req, it.now)
	cancel()
	result := "agreed"
	var kinds []string
	if err == nil {
		kinds = diverges(it.primary, d)
		switch {
		case len(kinds) > 0 && limitDecided(it.primary, d):
			result, kinds = "limit_decided", nil
		case len(kinds) > 0:
			result = "diverged"
		}
	} else {
		result = "failed"
	}
	r.mu.Lock()
	switch result {
	case "failed":
		r.report.Failed++
	case "limit_decided":
		r.report.Compared++
		r.report.LimitDecided++
	case "diverged":
		r.report.Compared++
		r.report.Diverged++
		for _, k := range kinds {
			r.report.ByKind[k]++
		}
		r.report.Recent = append(r.report.Recent, ShadowDivergence{Time: it.now, Agent: it.req.Agent, Action: it.req.Action,
			Resource: it.req.Resource, Kinds: kinds, Primary: it.primary, Shadow: summarize(d)})
		if len(r.report.Recent) > r.samples {
			r.report.Recent = slices.Delete(r.report.Recent, 0, len(r.report.Recent)-r.samples)
		}
	default:
		r.report.Compared++
		r.report.Agreed++
	}
	r.mu.Unlock()
	if r.calls != nil {
		r.calls.WithLabelValues(result).Inc()
		for _, k := range kinds {
			r.divergences.WithLabelValues(k).Inc()
		}
	}
	switch result {
	case "failed":
		r.log.Warn("shadow evaluation failed", "agent", it.req.Agent, "action", it.req.Action, "err", err)
	case "diverged":
		r.log.Warn("shadow profile diverged", "agent", it.req.Agent, "action", it.req.Action, "resource", it.req.Resource,
			"kinds", kinds, "primary_effect", it.primary.Effect, "primary_rule", it.primary.Rule,
			"shadow_effect", d.Effect, "shadow_rule", d.Rule, "shadow_reason", d.Reason)
	}
}

// diverges lists how the shadow's decision differs from the primary's.
func diverges(p ShadowDecision, d policy.Decision) []string {
	var kinds []string
	if p.Effect != d.Effect {
		kinds = append(kinds, DivergedEffect)
	}
	if p.Rule != d.Rule {
		kinds = append(kinds, DivergedRule)
	}
	pa, sa := p.Approval, d.Approval
	if (pa == nil) != (sa == nil) || pa != nil && (pa.Capability != sa.Capability || pa.Quorum != sa.Quorum || pa.Timeout != sa.Timeout) {
		kinds = append(kinds, DivergedApproval)
	}
	return kinds
}

// limitDecided: the primary denied on a limit of a rule that, on the
// shadow, would have charged that limit. Budgets are spent on the primary
// only, so the shadow cannot know the counter; the rule agrees.
func limitDecided(p ShadowDecision, d policy.Decision) bool {
	if p.Effect != policy.Deny || d.Effect == policy.Deny {
		return false
	}
	for _, o := range d.Obligations {
		if o.Rule == p.Rule {
			return true
		}
	}
	return false
}

func (r *shadowRunner) close() error {
	close(r.stop)
	r.done.Wait()
	return r.c.Close()
}

// evaluate decides req as Call would, up to the policy decision, and
// writes nothing: no task, no budget charge, no attestation.
func (c *Client) evaluate(ctx context.Context, req Request, now time.Time) (policy.Decision, error) {
	chain, err := c.passports.VerifyChain(ctx, c.org, req.Agent, req.Delegation)
	if err == nil {
		err = chain.Scope.Permits(req.Action, req.Resource, req.Attributes)
	}
	if err != nil {
		if errors.Is(err, errs.ErrUnavailable) {
			return policy.Decision{}, err
		}
		return policy.Decision{Effect: policy.Deny, Reason: "agent not authorised: " + err.Error()}, nil
	}
	pol, err := c.policies.Active(ctx, c.org)
	switch {
	case errors.Is(err, errs.ErrNotFound):
		return policy.Decision{Effect: policy.Deny, Reason: "no active policy in org " + c.org + "; default deny"}, nil
	case err != nil:
		return policy.Decision{}, err
	}
	return c.engine.Evaluate(ctx, pol, policy.Input{
		Org: c.org, Action: req.Action, Resource: req.Resource, Attributes: req.Attributes,
		Agent: req.Agent, Requester: chain.Root, Now: now,
		AgentScope: policy.Scope{Actions: chain.Scope.Actions, Resources: chain.Scope.Resources, Limits: chain.Scope.Limits},
	})
}

// ShadowReport returns what the shadow profile (Config.Shadow) has
// compared so far; Enabled is false without one. It is computed on this
// client in every profile (a hosted primary is compared here too). For
// the candidate-policy shadow, see StartShadow.
func (c *Client) ShadowReport() ShadowReport {
	r := c.shadowRun
	if r == nil {
		return ShadowReport{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.report
	out.ByKind = maps.Clone(r.report.ByKind)
	out.Recent = slices.Clone(r.report.Recent)
	return out
}

// ShadowFlush waits until every call handed to the shadow so far has been
// compared, or ctx is done (errs.ErrUnavailable wrapping ctx.Err()). It
// returns at once without a shadow profile.
func (c *Client) ShadowFlush(ctx context.Context) error {
	r := c.shadowRun
	if r == nil {
		return nil
	}
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for r.pending.Load() > 0 {
		select {
		case <-ctx.Done():
			return errs.Errorf(errs.ErrUnavailable, "shadow flush: %d calls still queued: %w", r.pending.Load(), ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// String is a one-line summary for logs and the drill.
func (r ShadowReport) String() string {
	if !r.Enabled {
		return "no shadow profile"
	}
	return "observed " + strconv.FormatUint(r.Observed, 10) + ", agreed " + strconv.FormatUint(r.Agreed, 10) +
		", diverged " + strconv.FormatUint(r.Diverged, 10) + ", limit-decided " + strconv.FormatUint(r.LimitDecided, 10) +
		", failed " + strconv.FormatUint(r.Failed, 10) + ", dropped " + strconv.FormatUint(r.Dropped, 10)
}
