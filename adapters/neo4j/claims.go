package neo4j

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/humanos/human/capability"
	"github.com/humanos/human/errs"
)

var (
	_ capability.ClaimStore     = (*Store)(nil)
	_ capability.EvidenceStore  = (*Store)(nil)
	_ capability.ClaimLister    = (*Store)(nil)
	_ capability.EvidenceLister = (*Store)(nil)
)

// schema is what Open creates when missing: the uniqueness constraints
// that make concurrent writers of one node, claim or evidence pointer
// safe, and the index Evidence looks a holding up by.
var schema = []string{
	"CREATE CONSTRAINT human_node_key IF NOT EXISTS FOR (n:HumanNode) REQUIRE n.key IS UNIQUE",
	"CREATE CONSTRAINT human_claim_key IF NOT EXISTS FOR (c:HumanClaim) REQUIRE c.key IS UNIQUE",
	"CREATE CONSTRAINT human_evidence_key IF NOT EXISTS FOR (e:HumanEvidence) REQUIRE e.key IS UNIQUE",
	"CREATE INDEX human_evidence_holding IF NOT EXISTS FOR (e:HumanEvidence) ON (e.ns, e.org, e.subject, e.capability)",
}

// evidenceKey joins the holding's key with the length-prefixed subject
// and capability and the ref, so no two evidence pointers share one.
func (s *Store) evidenceKey(org, subject, capabilityID, ref string) string {
	return fmt.Sprintf("%s%d:%s%d:%s", s.key(org, ""), len(subject), subject, len(capabilityID), capabilityID) + ref
}

// RecordClaim implements [capability.ClaimStore]: a (:HumanClaim {key, ns,
// org, id, digest}) node whose key carries the uniqueness constraint
// human_claim_key, so of concurrent callers with one ID exactly one
// succeeds and the others get errs.ErrConflict.
func (s *Store) RecordClaim(ctx context.Context, org, id, digest string) error {
	if err := begin(ctx, "record claim", org); err != nil {
		return err
	}
	_, err := s.run(ctx, true, `CREATE (:HumanClaim {key: $key, ns: $ns, org: $org, id: $id, digest: $digest})`,
		map[string]any{"key": s.key(org, id), "ns": s.ns, "org": org, "id": id, "digest": digest})
	if errs.Kind(err) == errs.ErrConflict {
		return errs.Errorf(errs.ErrConflict, "neo4j: claim %q of org %q is already recorded: %w", id, org, err)
	}
	return err
}

// AddEvidence implements [capability.EvidenceStore]: a (:HumanEvidence)
// node apart from the graph's nodes and edges, so it stays when the
// holding is removed. MERGE on the constrained key keeps the first write
// of a ref, also against concurrent writers. At is kept as Unix seconds
// and nanoseconds, which hold any time.
func (s *Store) AddEvidence(ctx context.Context, org, subject, capabilityID string, ev capability.Evidence) error {
	if err := begin(ctx, "add evidence", org); err != nil {
		return err
	}
	at := ev.At.UTC()
	_, err := s.run(ctx, true, `
MERGE (e:HumanEvidence {key: $key})
  ON CREATE SET e.ns = $ns, e.org = $org, e.subject = $subject, e.capability = $capability,
    e.ref = $ref, e.kind = $kind, e.task = $task, e.at_s = $at_s, e.at_ns = $at_ns`,
		map[string]any{"key": s.evidenceKey(org, subject, capabilityID, ev.Ref), "ns": s.ns, "org": org,
			"subject": subject, "capability": capabilityID, "ref": ev.Ref, "kind": ev.Kind, "task": ev.Task,
			"at_s": at.Unix(), "at_ns": int64(at.Nanosecond())})
	return err
}

// Evidence implements [capability.EvidenceStore].
func (s *Store) Evidence(ctx context.Context, org, subject, capabilityID string) ([]capability.Evidence, error) {
	if err := begin(ctx, "evidence", org); err != nil {
		return nil, err
	}
	recs, err := s.run(ctx, false, `
MATCH (e:HumanEvidence) WHERE e.ns = $ns AND e.org = $org AND e.subject = $subject AND e.capability = $capability
RETURN e.subject, e.capability, e.ref, e.kind, e.task, e.at_s, e.at_ns`,
		map[string]any{"ns": s.ns, "org": org, "subject": subject, "capability": capabilityID})
	if err != nil {
		return nil, err
	}
	out := make([]capability.Evidence, 0, len(recs))
	for _, r := range recs {
		out = append(out, evidenceRecord(r.Values).Evidence)
	}
	// Sorted here, not in Cypher: Go's byte order is the contract's, and
	// Neo4j orders strings by UTF-16 code units.
	slices.SortFunc(out, func(a, b capability.Evidence) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return strings.Compare(a.Ref, b.Ref)
	})
	return out, nil
}

// evidenceRecord reads the columns subject, capability, ref, kind, task,
// at_s, at_ns.
func evidenceRecord(v []any) capability.EvidenceRecord {
	var e capability.EvidenceRecord
	e.Subject, _ = v[0].(string)
	e.Capability, _ = v[1].(string)
	e.Ref, _ = v[2].(string)
	e.Kind, _ = v[3].(string)
	e.Task, _ = v[4].(string)
	sec, _ := v[5].(int64)
	nsec, _ := v[6].(int64)
	e.At = time.Unix(sec, nsec).UTC()
	return e
}

// ListClaims implements [capability.ClaimLister], with the string order
// of [Store.ListNodes].
func (s *Store) ListClaims(ctx context.Context, org, after string, limit int) ([]capability.ClaimRecord, error) {
	if err := begin(ctx, "list claims", org); err != nil {
		return nil, err
	}
	if limit < 1 {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "neo4j: list claims: limit %d", limit)
	}
	recs, err := s.run(ctx, false, `
MATCH (c:HumanClaim) WHERE c.ns = $ns AND c.org = $org AND c.id > $after
RETURN c.id, c.digest ORDER BY c.id LIMIT $limit`,
		map[string]any{"ns": s.ns, "org": org, "after": after, "limit": int64(limit)})
	if err != nil {
		return nil, err
	}
	out := make([]capability.ClaimRecord, 0, len(recs))
	for _, r := range recs {
		var c capability.ClaimRecord
		c.ID, _ = r.Values[0].(string)
		c.Digest, _ = r.Values[1].(string)
		out = append(out, c)
	}
	return out, nil
}

// ListEvidence implements [capability.EvidenceLister], ordered by
// (Subject, Capability, Ref) with the string order of [Store.ListNodes].
func (s *Store) ListEvidence(ctx context.Context, org string, after capability.EvidenceRecord, limit int) ([]capability.EvidenceRecord, error) {
	if err := begin(ctx, "list evidence", org); err != nil {
		return nil, err
	}
	if limit < 1 {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "neo4j: list evidence: limit %d", limit)
	}
	recs, err := s.run(ctx, false, `
MATCH (e:HumanEvidence) WHERE e.ns = $ns AND e.org = $org
  AND (e.subject > $subject OR (e.subject = $subject AND (e.capability > $capability OR (e.capability = $capability AND e.ref > $ref))))
RETURN e.subject, e.capability, e.ref, e.kind, e.task, e.at_s, e.at_ns ORDER BY e.subject, e.capability, e.ref LIMIT $limit`,
		map[string]any{"ns": s.ns, "org": org, "subject": after.Subject, "capability": after.Capability, "ref": after.Ref, "limit": int64(limit)})
	if err != nil {
		return nil, err
	}
	out := make([]capability.EvidenceRecord, 0, len(recs))
	for _, r := range recs {
		out = append(out, evidenceRecord(r.Values))
	}
	return out, nil
}
