package wire

import (
	"time"

	"github.com/humanos/human/ledger"
)

// The ledger-store protocol: what a control plane (adapters/remote's
// LedgerStore) and a ledger node (`human serve --role ledger`) exchange.
// It is ledger.Store and ledger.IndexStore over HTTP, one route per
// method, under LedgerStorePrefix. The log is always the org of the
// signing admin key; no body or query names it.

// LedgerStorePrefix is the path prefix of the ledger-store routes.
const LedgerStorePrefix = "/v1/ledger-store"

// MaxLedgerBody is the largest request body a ledger node reads on the
// append route (a whole group commit: up to 256 attestations with their
// nodes and checkpoint). Other routes keep MaxBody.
const MaxLedgerBody = 32 << 20

// MaxLedgerEntries is the most entries one entries request returns; the
// client pages longer ranges.
const MaxLedgerEntries = 512

// LedgerHead is the answer of GET /v1/ledger-store/head.
type LedgerHead struct {
	Size       uint64 `json:"size"`
	Checkpoint []byte `json:"checkpoint,omitempty"`
}

// LedgerNode is a Merkle node id, with its hash when one is carried.
type LedgerNode struct {
	Level uint   `json:"level"`
	Index uint64 `json:"index"`
	Hash  []byte `json:"hash,omitempty"`
}

// LedgerFields are ledger.Fields on the wire.
type LedgerFields struct {
	Kind     string    `json:"kind,omitempty"`
	Org      string    `json:"org,omitempty"`
	Actors   []string  `json:"actors,omitempty"`
	Action   string    `json:"action,omitempty"`
	Subjects []string  `json:"subjects,omitempty"`
	Time     time.Time `json:"time,omitzero"`
}

// LedgerAppend is the body of POST /v1/ledger-store/append: Store.Append,
// or IndexStore.AppendIndexed when Fields is set (one per entry, null for
// an entry left out of the index).
type LedgerAppend struct {
	Size       uint64          `json:"size"`
	Entries    [][]byte        `json:"entries"`
	Fields     []*LedgerFields `json:"fields,omitempty"`
	Nodes      []LedgerNode    `json:"nodes"`
	Checkpoint []byte          `json:"checkpoint"`
}

// LedgerEntries is the answer of GET /v1/ledger-store/entries.
type LedgerEntries struct {
	Entries [][]byte `json:"entries"`
}

// LedgerNodeIDs is the body of POST /v1/ledger-store/nodes.
type LedgerNodeIDs struct {
	IDs []LedgerNode `json:"ids"`
}

// LedgerHashes is the answer of POST /v1/ledger-store/nodes, in the
// order of the ids asked for.
type LedgerHashes struct {
	Hashes [][]byte `json:"hashes"`
}

// LedgerFilter is ledger.Filter on the wire.
type LedgerFilter struct {
	Kind    string    `json:"kind,omitempty"`
	Org     string    `json:"org,omitempty"`
	Actor   string    `json:"actor,omitempty"`
	Action  string    `json:"action,omitempty"`
	Subject string    `json:"subject,omitempty"`
	Since   time.Time `json:"since,omitzero"`
	Until   time.Time `json:"until,omitzero"`
}

// LedgerFind is the body of POST /v1/ledger-store/find.
type LedgerFind struct {
	Filter LedgerFilter `json:"filter"`
	From   uint64       `json:"from"`
	Limit  int          `json:"limit"`
}

// LedgerFound is the answer of POST /v1/ledger-store/find.
type LedgerFound struct {
	Found []LedgerFoundEntry `json:"found"`
}

// LedgerFoundEntry is one entry Find returned.
type LedgerFoundEntry struct {
	Index uint64 `json:"index"`
	Entry []byte `json:"entry"`
}

// FromFields encodes index fields; nil stays nil.
func FromFields(f *ledger.Fields) *LedgerFields {
	if f == nil {
		return nil
	}
	return &LedgerFields{Kind: f.Kind, Org: f.Org, Actors: f.Actors, Action: f.Action, Subjects: f.Subjects, Time: f.Time}
}

// LedgerValue decodes index fields; nil stays nil.
func (w *LedgerFields) LedgerValue() *ledger.Fields {
	if w == nil {
		return nil
	}
	return &ledger.Fields{Kind: w.Kind, Org: w.Org, Actors: w.Actors, Action: w.Action, Subjects: w.Subjects, Time: w.Time}
}

// FromFilter encodes a filter.
func FromFilter(f *ledger.Filter) LedgerFilter {
	return LedgerFilter{Kind: f.Kind, Org: f.Org, Actor: f.Actor, Action: f.Action, Subject: f.Subject, Since: f.Since, Until: f.Until}
}

// LedgerValue decodes a filter.
func (w LedgerFilter) LedgerValue() *ledger.Filter {
	return &ledger.Filter{Kind: w.Kind, Org: w.Org, Actor: w.Actor, Action: w.Action, Subject: w.Subject, Since: w.Since, Until: w.Until}
}

// AttestationPage is the answer of GET /v1/attestations (a ledger query):
// each entry with its receipt when proofs were asked for, the cursor of
// the next page and the checkpoint the receipts are against.
type AttestationPage struct {
	Attestations []FoundAttestation `json:"attestations"`
	Next         string             `json:"next,omitempty"`
	Checkpoint   string             `json:"checkpoint,omitempty"`
}

// FoundAttestation is one query result; the client re-parses the entry.
type FoundAttestation struct {
	Index   uint64          `json:"index"`
	Entry   []byte          `json:"entry"`
	Receipt *ledger.Receipt `json:"receipt,omitempty"`
}

// Availability is the answer of POST /v1/workforce/availability.
type Availability struct {
	Human string    `json:"human"`
	Away  bool      `json:"away"`
	Until time.Time `json:"until,omitzero"`
}

// Cancellation is the body of POST /v1/workforce/tasks/{id}/cancellations.
type Cancellation struct {
	Reason string `json:"reason"`
}
