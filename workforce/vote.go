package workforce

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"time"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
)

// VoteType is the DSSE payload type of an approver's signed decision.
const VoteType = "application/vnd.humanos.approval+json"

// Approval is the payload of a signed vote: which task (by ID and by the
// digest of its content), the verdict, who decided and when (as the
// approver's device claims; the queue records its own time too).
type Approval struct {
	Task     string    `json:"task"`
	Digest   string    `json:"digest"` // lower-case hex SHA-256
	Verdict  string    `json:"verdict"`
	Approver string    `json:"approver"` // DID of the approving human
	Created  time.Time `json:"created"`
}

// SignVote builds the approver's signed decision on task: a DSSE envelope
// of type [VoteType] over the task's ID and digest, signed by signer (the
// approver's passport key, held on their device).
func SignVote(signer passport.Signer, approverDID string, task *Task, verdict string, at time.Time) (*passport.Envelope, error) {
	if task == nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "vote: nil task")
	}
	a := Approval{Task: task.ID, Digest: task.DigestHex(), Verdict: verdict, Approver: approverDID, Created: at.UTC()}
	if err := a.validate(); err != nil {
		return nil, err
	}
	payload, err := json.Marshal(a)
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "vote: %v", err)
	}
	return passport.Seal(VoteType, payload, signer)
}

// maxVotePayload bounds a vote's payload; a real one is a few hundred bytes.
const maxVotePayload = 4096

// DecodeVote parses and shape-checks the payload of a vote envelope. It
// does not verify signatures ([Queue.Decide] does). A wrong payload type,
// malformed JSON, unknown or missing fields, an unknown verdict or a digest
// that is not 64 hex digits is errs.ErrInvalidArgument.
func DecodeVote(env *passport.Envelope) (Approval, error) {
	if env == nil {
		return Approval{}, errs.Errorf(errs.ErrInvalidArgument, "vote: nil envelope")
	}
	if env.PayloadType != VoteType {
		return Approval{}, errs.Errorf(errs.ErrInvalidArgument, "vote: payload type %q, want %q", env.PayloadType, VoteType)
	}
	if len(env.Payload) > maxVotePayload {
		return Approval{}, errs.Errorf(errs.ErrInvalidArgument, "vote: payload is %d bytes, at most %d allowed", len(env.Payload), maxVotePayload)
	}
	dec := json.NewDecoder(bytes.NewReader(env.Payload))
	dec.DisallowUnknownFields()
	var a Approval
	if err := dec.Decode(&a); err != nil {
		return Approval{}, errs.Errorf(errs.ErrInvalidArgument, "vote payload: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Approval{}, errs.Errorf(errs.ErrInvalidArgument, "vote payload: trailing data after the JSON object")
	}
	if err := a.validate(); err != nil {
		return Approval{}, err
	}
	return a, nil
}

func (a Approval) validate() error {
	switch {
	case a.Task == "":
		return errs.Errorf(errs.ErrInvalidArgument, "vote: missing task")
	case a.Approver == "":
		return errs.Errorf(errs.ErrInvalidArgument, "vote: missing approver")
	case a.Verdict != VerdictApprove && a.Verdict != VerdictDeny:
		return errs.Errorf(errs.ErrInvalidArgument, "vote: verdict %q, want %q or %q", a.Verdict, VerdictApprove, VerdictDeny)
	case a.Created.IsZero():
		return errs.Errorf(errs.ErrInvalidArgument, "vote: missing created time")
	}
	if d, err := hex.DecodeString(a.Digest); err != nil || len(d) != 32 || hex.EncodeToString(d) != a.Digest {
		return errs.Errorf(errs.ErrInvalidArgument, "vote: digest %q is not 64 lower-case hex digits", a.Digest)
	}
	return nil
}
