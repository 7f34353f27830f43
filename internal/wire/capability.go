package wire

import (
	"github.com/humanos/human/capability"
	"github.com/humanos/human/ledger"
)

// ClaimResult is an applied capability claim and the receipt of its
// attestation (POST /v1/capabilities/claims).
type ClaimResult struct {
	Claim   capability.Claim `json:"claim"`
	Receipt *ledger.Receipt  `json:"receipt,omitempty"`
}

// Evidence is the evidence attached to one holding of a capability
// (GET /v1/capabilities/evidence), oldest first.
type Evidence struct {
	Subject    string                `json:"subject"`
	Capability string                `json:"capability"`
	Evidence   []capability.Evidence `json:"evidence"`
}

// Holding answers "does subject hold capability, and by which path"
// (GET /v1/capabilities/holds). Path is empty when Held is false.
type Holding struct {
	Subject    string          `json:"subject"`
	Capability string          `json:"capability"`
	Held       bool            `json:"held"`
	Path       capability.Path `json:"path"`
}
