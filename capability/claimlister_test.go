package capability_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/humanos/human/capability"
	"github.com/humanos/human/errs"
)

func TestClaimRecordValidate(t *testing.T) {
	good := strings.Repeat("ab", 32)
	for _, c := range []struct {
		name string
		r    capability.ClaimRecord
		ok   bool
	}{
		{"valid", capability.ClaimRecord{ID: "c-1", Digest: good}, true},
		{"empty id", capability.ClaimRecord{Digest: good}, false},
		{"id with space", capability.ClaimRecord{ID: "c 1", Digest: good}, false},
		{"short digest", capability.ClaimRecord{ID: "c-1", Digest: good[:62]}, false},
		{"uppercase digest", capability.ClaimRecord{ID: "c-1", Digest: strings.ToUpper(good)}, false},
		{"not hex", capability.ClaimRecord{ID: "c-1", Digest: strings.Repeat("zz", 32)}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.r.Validate()
			if c.ok != (err == nil) || (err != nil && !errors.Is(err, errs.ErrInvalidArgument)) {
				t.Fatalf("Validate(%+v) = %v", c.r, err)
			}
		})
	}
}

func TestEvidenceRecordValidate(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ok := capability.EvidenceRecord{Subject: "alice", Capability: "cap.x", Evidence: capability.Evidence{Kind: "approval", Ref: "ledger:1", At: at}}
	for _, c := range []struct {
		name   string
		mutate func(*capability.EvidenceRecord)
		ok     bool
	}{
		{"valid", func(*capability.EvidenceRecord) {}, true},
		{"with task", func(r *capability.EvidenceRecord) { r.Task = "t1" }, true},
		{"no subject", func(r *capability.EvidenceRecord) { r.Subject = "" }, false},
		{"no capability", func(r *capability.EvidenceRecord) { r.Capability = "" }, false},
		{"no kind", func(r *capability.EvidenceRecord) { r.Kind = "" }, false},
		{"bad ref", func(r *capability.EvidenceRecord) { r.Ref = "a\nb" }, false},
		{"bad task", func(r *capability.EvidenceRecord) { r.Task = "t 1" }, false},
		{"no time", func(r *capability.EvidenceRecord) { r.At = time.Time{} }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := ok
			c.mutate(&r)
			err := r.Validate()
			if c.ok != (err == nil) || (err != nil && !errors.Is(err, errs.ErrInvalidArgument)) {
				t.Fatalf("Validate(%+v) = %v", r, err)
			}
		})
	}
}

func TestEvidenceLess(t *testing.T) {
	r := func(s, c, ref string) capability.EvidenceRecord {
		return capability.EvidenceRecord{Subject: s, Capability: c, Evidence: capability.Evidence{Ref: ref}}
	}
	ordered := []capability.EvidenceRecord{r("", "", ""), r("B", "z", "z"), r("a", "a", "b"), r("a", "b", "a"), r("a", "b", "b"), r("b", "", "")}
	for i := range ordered {
		for j := range ordered {
			if got := capability.EvidenceLess(ordered[i], ordered[j]); got != (i < j) {
				t.Fatalf("EvidenceLess(%d, %d) = %v", i, j, got)
			}
		}
	}
}

// FuzzRecordDecode: any bundle line decodes into a record whose Validate
// accepts it or refuses it with errs.ErrInvalidArgument; never a panic.
func FuzzRecordDecode(f *testing.F) {
	f.Add([]byte(`{"id":"c1","digest":"` + strings.Repeat("0", 64) + `"}`))
	f.Add([]byte(`{"subject":"alice","capability":"cap.x","kind":"approval","ref":"ledger:1","task":"t","at":"2026-01-02T03:04:05Z"}`))
	f.Add([]byte(`{"subject":"","at":"0001-01-01T00:00:00Z"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		var c capability.ClaimRecord
		if json.Unmarshal(line, &c) == nil {
			if err := c.Validate(); err != nil && !errors.Is(err, errs.ErrInvalidArgument) {
				t.Fatalf("claim record %q: %v", line, err)
			}
		}
		var e capability.EvidenceRecord
		if json.Unmarshal(line, &e) == nil {
			if err := e.Validate(); err != nil && !errors.Is(err, errs.ErrInvalidArgument) {
				t.Fatalf("evidence record %q: %v", line, err)
			}
		}
	})
}
