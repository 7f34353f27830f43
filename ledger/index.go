package ledger

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/humanos/human/passport"
)

// Fields are the query fields of one attestation, extracted by the ledger
// (never by a store) from the signed statement when it is appended, so
// that a store can index them. Every field comes from signed bytes, which
// is what lets Log.Query re-check each result a store returns.
type Fields struct {
	// Kind is the statement's predicate type (PredicateDecision, ...).
	Kind string
	// Org is the predicate's "org".
	Org string
	// Actors are who acted: the predicate's "actor", "agent", "requester",
	// "approver" and "signer"; for a passport event, the event's passport
	// DID, delegation issuer or revoker. Sorted, without duplicates.
	Actors []string
	// Action is what was done: the predicate's "action", else its "change"
	// (capability and policy changes), else its "kind" (passport events).
	Action string
	// Subjects are what the attestation is about: each statement subject's
	// name and "alg:value" digest, and the predicate's "resource", "task"
	// and "to", and a passport event's DID or delegation subject. Sorted,
	// without duplicates.
	Subjects []string
	// Time is the predicate's signed "time" (RFC 3339), else a passport
	// event's "created"; zero when the predicate carries none.
	Time time.Time
}

// IndexFields extracts the query fields of a statement. Predicates of
// other shapes than HUMAN's still index by kind and subjects, and by any of
// the field names above they use.
func IndexFields(st *Statement) *Fields { return indexFields(st, false) }

// indexFields is IndexFields; valid says st.Predicate is known to be valid
// JSON (the ledger encoded or decoded it), which spares re-checking it.
func indexFields(st *Statement, valid bool) *Fields {
	f := &Fields{Kind: st.PredicateType}
	f.Subjects = make([]string, 0, 2*len(st.Subject)+5)
	f.Actors = make([]string, 0, 8)
	for _, s := range st.Subject {
		f.Subjects = append(f.Subjects, s.Name)
		for alg, v := range s.Digest {
			f.Subjects = append(f.Subjects, alg+":"+v)
		}
	}
	var p predicateFields
	// A field of an unexpected type is skipped; the rest still index.
	decodePredicate(st.Predicate, &p, valid)
	f.Org = p.Org
	f.Actors = append(f.Actors, p.Actor, p.Agent, p.Requester, p.Approver, p.Signer)
	f.Subjects = append(f.Subjects, p.Resource, p.Task, p.To)
	switch {
	case p.Action != "":
		f.Action = p.Action
	case p.Change != "":
		f.Action = p.Change
	default:
		f.Action = p.Kind
	}
	if len(p.Time) > 0 {
		if t, ok := predicateTime(p.Time); ok {
			f.Time = t.UTC()
		}
	}
	if len(p.Event) > 0 && p.Event[0] == '{' {
		indexEvent(f, p.Event)
	}
	f.Actors = indexSet(f.Actors)
	f.Subjects = indexSet(f.Subjects)
	return f
}

// indexEvent adds the fields of a passport event (an envelope anchored in
// a passport-event predicate): its DID, issuer, revoker, subject and time.
func indexEvent(f *Fields, raw []byte) {
	env, err := passport.ParseEnvelope(raw)
	if err != nil {
		return
	}
	var e struct {
		DID     string    `json:"did"`
		Issuer  string    `json:"issuer"`
		Revoker string    `json:"revoker"`
		Subject string    `json:"subject"`
		Created time.Time `json:"created"`
	}
	_ = json.Unmarshal(env.Payload, &e)
	f.Actors = append(f.Actors, e.DID, e.Issuer, e.Revoker)
	f.Subjects = append(f.Subjects, e.DID, e.Subject)
	if f.Time.IsZero() && !e.Created.IsZero() {
		f.Time = e.Created.UTC()
	}
}

// indexSet sorts s and drops empty and repeated values.
func indexSet(s []string) []string {
	s = slices.DeleteFunc(s, func(v string) bool { return v == "" })
	slices.Sort(s)
	return slices.Compact(s)
}

// Filter selects attestations by their Fields. Empty fields match
// anything; all set fields must match. Since and Until bound Time to
// [Since, Until); with either set, entries without a signed time never
// match.
type Filter struct {
	Kind    string
	Org     string
	Actor   string // one of Fields.Actors
	Action  string
	Subject string // one of Fields.Subjects
	Since   time.Time
	Until   time.Time
}

// Match reports whether f selects an attestation with fields x.
func (f *Filter) Match(x *Fields) bool {
	if x == nil {
		return false
	}
	switch {
	case f.Kind != "" && f.Kind != x.Kind,
		f.Org != "" && f.Org != x.Org,
		f.Action != "" && f.Action != x.Action,
		f.Actor != "" && !slices.Contains(x.Actors, f.Actor),
		f.Subject != "" && !slices.Contains(x.Subjects, f.Subject):
		return false
	}
	if !f.Since.IsZero() || !f.Until.IsZero() {
		if x.Time.IsZero() {
			return false
		}
		if !f.Since.IsZero() && x.Time.Before(f.Since) {
			return false
		}
		if !f.Until.IsZero() && !x.Time.Before(f.Until) {
			return false
		}
	}
	return true
}

// Found is one entry a store's index found: its index and its bytes.
type Found struct {
	Index uint64
	Entry []byte
}

// IndexStore is an optional Store that also indexes attestations for
// Log.Query. A Log detects it with a type assertion when it opens; over a
// plain Store, Query scans the entries instead (correct, but linear in the
// log's size). Stores persist the Fields the ledger hands them and match
// them as Filter.Match does; they never parse entries. Like Store, every
// method called with a cancelled context returns errs.ErrUnavailable
// wrapping ctx.Err() and changes nothing.
type IndexStore interface {
	Store

	// AppendIndexed is Append (same compare-and-swap, same errors) that
	// also stores fields[i] for entries[i], in the same transaction: the
	// index never holds an entry the log does not, nor misses one it does.
	// A nil fields[i] leaves entry i out of the index (it is not an
	// attestation). len(fields) != len(entries) is errs.ErrInvalidArgument.
	AppendIndexed(ctx context.Context, log string, size uint64, entries [][]byte, fields []*Fields, nodes []Node, checkpoint []byte) error

	// Find returns, in index order, up to limit indexed entries of the log
	// at index >= from whose fields match f (as Filter.Match). Fewer than
	// limit results means there are no more. limit < 1 or a nil f is
	// errs.ErrInvalidArgument. An unknown log finds nothing.
	Find(ctx context.Context, log string, f *Filter, from uint64, limit int) ([]Found, error)
}

// Index terms are how a store with a term table (SQL stores) indexes
// Fields: one term per searchable value, prefixed by its field. '=' never
// occurs in a prefix, so values cannot collide across fields. The core
// defines them once so every such store indexes and searches alike.
const (
	TermKind    = "kind="
	TermAction  = "action="
	TermActor   = "actor="
	TermSubject = "subject="
)

// Terms returns the index terms of x, each once: its kind, its action (if
// any), each actor and each subject.
func (x *Fields) Terms() []string {
	terms := make([]string, 0, 2+len(x.Actors)+len(x.Subjects))
	add := func(t string) {
		if !slices.Contains(terms, t) {
			terms = append(terms, t)
		}
	}
	add(TermKind + x.Kind)
	if x.Action != "" {
		add(TermAction + x.Action)
	}
	for _, a := range x.Actors {
		if a != "" {
			add(TermActor + a)
		}
	}
	for _, s := range x.Subjects {
		if s != "" {
			add(TermSubject + s)
		}
	}
	return terms
}

// Terms returns the index terms f requires, the most selective first
// (subject, actor, action, kind); a store walks the first and checks the
// rest. Empty when f names none of them.
func (f *Filter) Terms() []string {
	var terms []string
	if f.Subject != "" {
		terms = append(terms, TermSubject+f.Subject)
	}
	if f.Actor != "" {
		terms = append(terms, TermActor+f.Actor)
	}
	if f.Action != "" {
		terms = append(terms, TermAction+f.Action)
	}
	if f.Kind != "" {
		terms = append(terms, TermKind+f.Kind)
	}
	return terms
}
