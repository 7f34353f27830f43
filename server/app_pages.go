package server

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/humanos/human"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/internal/wire"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/policy"
	"github.com/humanos/human/workforce"
)

var appFuncs = template.FuncMap{
	"when":  func(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04:05 UTC") },
	"iso":   func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"state": appStateText,
	"short": func(s string) string {
		if len(s) > 24 {
			return s[:16] + "…" + s[len(s)-6:]
		}
		return s
	},
}

// appStateText says a task state in plain words. Timed out is never
// "denied": nobody decided, and the action did not happen.
func appStateText(s workforce.State) string {
	switch s {
	case workforce.Pending, workforce.Assigned:
		return "waiting for a decision"
	case workforce.Escalated:
		return "escalated, waiting for a decision"
	case workforce.Approved:
		return "approved"
	case workforce.Denied:
		return "denied"
	case workforce.TimedOut:
		return "timed out (nobody decided in time, so the action did not happen)"
	case workforce.Cancelled:
		return "withdrawn by the agent"
	}
	return string(s)
}

// appPage is what every page template gets.
type appPage struct {
	Title   string
	CSRF    string
	Session *appSession
	Now     time.Time
	Data    any
}

func (a *app) render(w http.ResponseWriter, r *http.Request, ss *appSession, status int, name string, data any) {
	titles := map[string]string{"signin": "Sign in", "register": "Create your passport", "inbox": "Your approvals",
		"task": "Request", "history": "Your decisions", "verify": "Verify a receipt", "error": "Problem"}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	err := a.pages.ExecuteTemplate(w, name+".html", appPage{Title: titles[name], CSRF: ss.csrf, Session: ss, Now: a.s.now(), Data: data})
	if err != nil {
		a.s.log.Error("app template", "page", name, "err", err)
	}
}

// fail shows an error page (or JSON to fetch callers) with the status of
// the error's kind.
func (a *app) fail(w http.ResponseWriter, r *http.Request, ss *appSession, err error) {
	p := wire.ProblemFromError(err)
	msg := err.Error()
	if p.Status >= 500 && errs.Kind(err) != errs.ErrUnavailable {
		a.s.log.Error("app internal error", "err", err)
		msg = "something went wrong on the server"
	}
	if ss == nil || strings.Contains(r.Header.Get("Accept"), "application/json") || strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(p.Status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
		return
	}
	a.render(w, r, ss, p.Status, "error", msg)
}

type appSigninView struct {
	Org, Next string
	Open      bool
}

func (a *app) signinView(r *http.Request) appSigninView {
	q := r.URL.Query()
	org := q.Get("org")
	if human.ValidateOrg(org) != nil {
		org = ""
	}
	return appSigninView{Org: org, Next: safeNext(q.Get("next")), Open: a.cfg.OpenRegistration}
}

// loadTask returns the session org's client and the task, which must be
// routed to (or decided by) the signed-in human. Anything else, a task
// of another org included, is errs.ErrNotFound.
func (a *app) loadTask(ctx context.Context, ss *appSession, id string) (*human.Client, *workforce.Task, error) {
	notFound := errs.Errorf(errs.ErrNotFound, "there is no request %q for you in %s", id, ss.org)
	if id == "" || len(id) > 200 {
		return nil, nil, notFound
	}
	c, err := a.s.client(ctx, ss.org)
	if err != nil {
		return nil, nil, err
	}
	t, err := c.Task(ctx, id)
	if err != nil {
		if errs.Kind(err) == errs.ErrUnavailable {
			return nil, nil, err
		}
		return nil, nil, notFound
	}
	if t.Org != ss.org || !appRoutedTo(t, ss.did) {
		return nil, nil, notFound
	}
	return c, t, nil
}

func appRoutedTo(t *workforce.Task, did string) bool {
	if slices.Contains(t.Candidates, did) || slices.Contains(t.Assignees, did) {
		return true
	}
	for _, st := range t.Stages {
		if slices.Contains(st.Candidates, did) || slices.Contains(st.Assignees, did) {
			return true
		}
	}
	return slices.ContainsFunc(t.Approvals, func(v workforce.Vote) bool { return v.Approver == did })
}

type appTaskRow struct {
	Task     *workforce.Task
	Agent    string
	Deadline time.Time
}

func (a *app) inboxPage(w http.ResponseWriter, r *http.Request, ss *appSession) {
	ctx := r.Context()
	c, err := a.s.client(ctx, ss.org)
	if err != nil {
		a.fail(w, r, ss, err)
		return
	}
	tasks, err := c.Inbox(ctx, ss.did)
	if err != nil {
		a.fail(w, r, ss, err)
		return
	}
	rows := make([]appTaskRow, 0, len(tasks))
	for _, t := range tasks {
		rows = append(rows, appTaskRow{Task: t, Agent: a.name(ctx, c, t.Agent), Deadline: t.StageDeadline()})
	}
	slices.SortFunc(rows, func(x, y appTaskRow) int { return x.Deadline.Compare(y.Deadline) })
	a.render(w, r, ss, http.StatusOK, "inbox", struct {
		Rows []appTaskRow
		New  bool
	}{rows, r.URL.Query().Get("new") != ""})
}

// name is a passport's display name, or its DID when it has none.
func (a *app) name(ctx context.Context, c *human.Client, did string) string {
	if did == "" {
		return ""
	}
	if p, err := c.Passports().Get(ctx, c.Org(), did); err == nil && p.Name != "" {
		return p.Name
	}
	return did
}

type appLink struct {
	Issuer, Subject string
	Actions         string
	Expires         time.Time
}

type appPerson struct {
	Name, DID, Voted string
	Me               bool
}

type appTaskView struct {
	Task                *workforce.Task
	Agent, Requester    string
	Chain               []appLink
	ChainNote           string
	Attributes          [][2]string
	Rule, Reason        string
	Matched             []policy.Match
	People              []appPerson
	Votes               int
	Deadline            time.Time
	Then                string
	Intent, Mine        string
	Open, Done          bool
	Digest, StateText   string
	DecisionIndex       uint64
	HasDecisionEvidence bool
}

// appDecisionRecord is the part of the policy decision attestation the
// task page shows.
type appDecisionRecord struct {
	Delegation string         `json:"delegation"`
	Requester  string         `json:"requester"`
	Rule       string         `json:"rule"`
	Reason     string         `json:"reason"`
	Matched    []policy.Match `json:"matched"`
}

func (a *app) taskPage(w http.ResponseWriter, r *http.Request, ss *appSession, id string) {
	ctx := r.Context()
	if org := r.URL.Query().Get("org"); org != "" && org != ss.org {
		a.fail(w, r, ss, errs.Errorf(errs.ErrNotFound, "this link is for another organisation (%s); you are signed in to %s", org, ss.org))
		return
	}
	c, t, err := a.loadTask(ctx, ss, id)
	if err != nil {
		a.fail(w, r, ss, err)
		return
	}
	v := appTaskView{Task: t, Agent: a.name(ctx, c, t.Agent), Requester: a.name(ctx, c, t.Requester),
		Rule: t.Rule, Reason: t.Reason, Deadline: t.StageDeadline(), Open: t.State.Open(), Done: r.URL.Query().Get("done") != "",
		Digest: t.DigestHex(), StateText: appStateText(t.State)}
	switch in := r.URL.Query().Get("intent"); in {
	case workforce.VerdictApprove, workforce.VerdictDeny:
		v.Intent = in
	}
	keys := make([]string, 0, len(t.Attributes))
	for k := range t.Attributes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b, _ := json.Marshal(t.Attributes[k])
		v.Attributes = append(v.Attributes, [2]string{k, string(b)})
	}
	// The decision that opened the task: matched rules and the delegation.
	page, err := c.Attestations(ctx, &ledger.Query{Filter: ledger.Filter{Kind: ledger.PredicateDecision, Subject: t.ID}, Limit: 1})
	if err == nil && len(page.Attestations) == 1 {
		var rec appDecisionRecord
		if json.Unmarshal(page.Attestations[0].Statement.Predicate, &rec) == nil {
			v.Matched, v.HasDecisionEvidence, v.DecisionIndex = rec.Matched, true, page.Attestations[0].Index
			if rec.Reason != "" && v.Reason == "" {
				v.Reason = rec.Reason
			}
			if ch, err := c.Passports().VerifyChain(ctx, ss.org, t.Agent, rec.Delegation); err == nil {
				for _, l := range ch.Links {
					v.Chain = append(v.Chain, appLink{Issuer: a.name(ctx, c, l.Issuer), Subject: a.name(ctx, c, l.Subject),
						Actions: strings.Join(l.Scope.Actions, ", "), Expires: l.Expires})
				}
			} else {
				v.ChainNote = "The agent's delegation no longer verifies: " + err.Error()
			}
		}
	}
	voted := map[string]string{}
	for _, vt := range t.Approvals {
		voted[vt.Approver] = vt.Verdict
		if vt.Verdict == workforce.VerdictApprove {
			v.Votes++
		}
	}
	v.Mine = voted[ss.did]
	for _, did := range t.Voters() {
		v.People = append(v.People, appPerson{Name: a.name(ctx, c, did), DID: did, Voted: voted[did], Me: did == ss.did})
	}
	if len(t.Escalation) > t.Step {
		v.Then = fmt.Sprintf("If nobody decides by then, the request moves to the next approvers (%d escalation step(s) left).", len(t.Escalation)-t.Step)
	} else {
		v.Then = "If nobody decides by then, the request times out and the action does not happen."
	}
	a.render(w, r, ss, http.StatusOK, "task", v)
}

type appHistoryRow struct {
	Index           uint64
	Task, Verdict   string
	Action, Resrc   string
	State           workforce.State
	At              time.Time
	ReceiptVerified bool
}

// appApproval is the part of a vote attestation history shows.
type appApproval struct {
	Task     string          `json:"task"`
	Verdict  string          `json:"verdict"`
	Approver string          `json:"approver"`
	State    workforce.State `json:"state"`
	Action   string          `json:"action"`
	Resource string          `json:"resource"`
	Time     time.Time       `json:"time"`
}

// myApprovals lists the signed-in human's vote attestations, each with a
// receipt against the latest checkpoint.
func (a *app) myApprovals(ctx context.Context, c *human.Client, ss *appSession) ([]*ledger.Attestation, []appApproval, error) {
	q := &ledger.Query{Filter: ledger.Filter{Kind: ledger.PredicateApproval, Org: ss.org, Actor: ss.did}, Proofs: true, Limit: 100}
	var atts []*ledger.Attestation
	var recs []appApproval
	for range 20 {
		page, err := c.Attestations(ctx, q)
		if err != nil {
			return nil, nil, err
		}
		for _, at := range page.Attestations {
			var rec appApproval
			if json.Unmarshal(at.Statement.Predicate, &rec) != nil || rec.Approver != ss.did || rec.Verdict == "" {
				continue
			}
			atts, recs = append(atts, at), append(recs, rec)
		}
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	return atts, recs, nil
}

func (a *app) historyPage(w http.ResponseWriter, r *http.Request, ss *appSession) {
	ctx := r.Context()
	c, err := a.s.client(ctx, ss.org)
	if err != nil {
		a.fail(w, r, ss, err)
		return
	}
	atts, recs, err := a.myApprovals(ctx, c, ss)
	if err != nil {
		a.fail(w, r, ss, err)
		return
	}
	rows := make([]appHistoryRow, 0, len(atts))
	for i := len(atts) - 1; i >= 0; i-- {
		rec := recs[i]
		rows = append(rows, appHistoryRow{Index: atts[i].Index, Task: rec.Task, Verdict: rec.Verdict, Action: rec.Action,
			Resrc: rec.Resource, State: rec.State, At: rec.Time,
			ReceiptVerified: atts[i].Receipt != nil && human.VerifyReceipt(atts[i].Receipt, c.LedgerKey()) == nil})
	}
	a.render(w, r, ss, http.StatusOK, "history", rows)
}

type appVerifyView struct {
	Index, Size    uint64
	Task, Verdict  string
	LeafHash, Root string
	Proof          []string
	Checkpoint     string
	LedgerKey      string
	Err            string
}

func (a *app) verifyPage(w http.ResponseWriter, r *http.Request, ss *appSession, idx string) {
	ctx := r.Context()
	index, err := strconv.ParseUint(idx, 10, 64)
	if err != nil {
		a.fail(w, r, ss, errs.Errorf(errs.ErrNotFound, "no receipt %q", idx))
		return
	}
	c, err := a.s.client(ctx, ss.org)
	if err != nil {
		a.fail(w, r, ss, err)
		return
	}
	atts, recs, err := a.myApprovals(ctx, c, ss)
	if err != nil {
		a.fail(w, r, ss, err)
		return
	}
	i := slices.IndexFunc(atts, func(at *ledger.Attestation) bool { return at.Index == index })
	if i < 0 || atts[i].Receipt == nil {
		a.fail(w, r, ss, errs.Errorf(errs.ErrNotFound, "entry %d is not one of your decisions", index))
		return
	}
	rc := atts[i].Receipt
	v := appVerifyView{Index: rc.Index, Task: recs[i].Task, Verdict: recs[i].Verdict, LeafHash: hex.EncodeToString(ledger.LeafHash(rc.Entry)),
		Checkpoint: string(rc.Checkpoint), LedgerKey: c.LedgerKey()}
	for _, h := range rc.Proof {
		v.Proof = append(v.Proof, hex.EncodeToString(h))
	}
	// A checkpoint note: origin, size, base64 root hash, blank, signatures.
	if lines := strings.Split(string(rc.Checkpoint), "\n"); len(lines) > 2 {
		v.Size, _ = strconv.ParseUint(lines[1], 10, 64)
		if root, err := base64.StdEncoding.DecodeString(lines[2]); err == nil {
			v.Root = hex.EncodeToString(root)
		}
	}
	if err := human.VerifyReceipt(rc, c.LedgerKey()); err != nil {
		v.Err = err.Error()
	}
	a.render(w, r, ss, http.StatusOK, "verify", v)
}
