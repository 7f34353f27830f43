package ledger

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
)

// hashSize is the size of an RFC 6962 SHA-256 hash.
const hashSize = 32

// maxNote bounds a signed checkpoint note we are willing to parse.
const maxNote = 64 << 10

// Checkpoint is the body of a C2SP tlog-checkpoint: the log's origin, its
// size and the RFC 6962 root hash at that size. Signed, it is a note.
type Checkpoint struct {
	Origin string
	Size   uint64
	Hash   []byte
}

// Marshal returns the checkpoint's note text: three lines, each ending in
// a newline.
func (c *Checkpoint) Marshal() []byte {
	b := make([]byte, 0, len(c.Origin)+64)
	b = append(b, c.Origin...)
	b = append(b, '\n')
	b = strconv.AppendUint(b, c.Size, 10)
	b = append(b, '\n')
	b = base64.StdEncoding.AppendEncode(b, c.Hash)
	return append(b, '\n')
}

// ParseCheckpoint decodes a checkpoint's note text (the part before the
// signatures). It accepts and ignores extension lines after the third, as
// C2SP tlog-checkpoint allows. Malformed text is errs.ErrInvalidArgument.
func ParseCheckpoint(text []byte) (*Checkpoint, error) {
	if len(text) > maxNote {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "checkpoint: %d bytes, limit %d", len(text), maxNote)
	}
	if len(text) == 0 || text[len(text)-1] != '\n' {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "checkpoint: text must end with a newline")
	}
	lines := strings.Split(string(text[:len(text)-1]), "\n")
	if len(lines) < 3 {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "checkpoint: %d lines, want origin, size and root hash", len(lines))
	}
	for i, l := range lines {
		if l == "" {
			return nil, errs.Errorf(errs.ErrInvalidArgument, "checkpoint: line %d is empty", i+1)
		}
	}
	if err := validOrigin(lines[0]); err != nil {
		return nil, err
	}
	size, err := parseDecimal(lines[1])
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "checkpoint: size line %q: %v", lines[1], err)
	}
	hash, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(hash) != hashSize {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "checkpoint: root hash line %q is not base64 of %d bytes", lines[2], hashSize)
	}
	return &Checkpoint{Origin: lines[0], Size: size, Hash: hash}, nil
}

// parseDecimal parses an ASCII decimal with no sign and no leading zeros.
func parseDecimal(s string) (uint64, error) {
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return 0, errors.New("want a decimal without leading zeros")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("want a decimal without leading zeros")
		}
	}
	return strconv.ParseUint(s, 10, 64)
}

// validOrigin checks an origin line: a non-empty note key name, no spaces,
// no '+', printable. Since it can hold no space, no checkpoint text can ever
// be confused with a DSSE pre-authentication encoding ("DSSEv1 ...") signed
// by the same key.
func validOrigin(origin string) error {
	if origin == "" {
		return errs.Errorf(errs.ErrInvalidArgument, "checkpoint: empty origin")
	}
	if !utf8.ValidString(origin) {
		return errs.Errorf(errs.ErrInvalidArgument, "checkpoint: origin is not UTF-8")
	}
	for _, r := range origin {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == '+' || r == '\u2014' {
			return errs.Errorf(errs.ErrInvalidArgument, "checkpoint: origin %q holds a space, control character, '+' or '\u2014'", origin)
		}
	}
	return nil
}

// openCheckpoint verifies a signed checkpoint note with v and parses it. The
// checkpoint's origin must be v's name. A note not signed by v, or signed
// badly, is errs.ErrUnauthenticated; a malformed one is
// errs.ErrInvalidArgument.
func openCheckpoint(signed []byte, v note.Verifier) (*Checkpoint, error) {
	cp, _, err := openNote(signed, v)
	return cp, err
}

// NewVerifier parses a note verifier key ("name+hash+base64", as
// Log.VerifierKey returns) into the verifier VerifyReceipt and
// VerifyConsistency take. A malformed key is errs.ErrInvalidArgument.
func NewVerifier(verifierKey string) (note.Verifier, error) {
	v, err := note.NewVerifier(verifierKey)
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "ledger verifier key %q: %v", verifierKey, err)
	}
	return v, nil
}

// noteSigner signs checkpoint notes through a passport.Signer, so an org
// key held by a KMS or device signs checkpoints without exposing it.
type noteSigner struct {
	name   string
	hash   uint32
	signer passport.Signer
}

func (s *noteSigner) Name() string    { return s.name }
func (s *noteSigner) KeyHash() uint32 { return s.hash }
func (s *noteSigner) Sign(msg []byte) ([]byte, error) {
	return s.signer.Sign(msg)
}

// checkpointKeys derives the note signer, verifier and verifier key string
// of a log named origin from an Ed25519 signer.
func checkpointKeys(origin string, signer passport.Signer) (note.Signer, note.Verifier, string, error) {
	if signer == nil {
		return nil, nil, "", errs.Errorf(errs.ErrInvalidArgument, "ledger: nil signer")
	}
	pub := signer.PublicKey()
	if pub.Suite != passport.SuiteEd25519 {
		return nil, nil, "", errs.Errorf(errs.ErrInvalidArgument, "ledger: signer suite %q, checkpoints need %q", pub.Suite, passport.SuiteEd25519)
	}
	if err := pub.Validate(); err != nil {
		return nil, nil, "", err
	}
	if err := validOrigin(origin); err != nil {
		return nil, nil, "", err
	}
	vkey, err := note.NewEd25519VerifierKey(origin, ed25519.PublicKey(pub.Key))
	if err != nil {
		return nil, nil, "", errs.Errorf(errs.ErrInvalidArgument, "ledger: origin %q: %v", origin, err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, nil, "", errs.Errorf(errs.ErrInvalidArgument, "ledger: origin %q: %v", origin, err)
	}
	return &noteSigner{name: origin, hash: v.KeyHash(), signer: signer}, v, vkey, nil
}

// signCheckpoint returns the signed note of cp.
func signCheckpoint(cp *Checkpoint, s note.Signer) ([]byte, error) {
	signed, err := note.Sign(&note.Note{Text: string(cp.Marshal())}, s)
	if err != nil {
		return nil, errs.Errorf(errs.ErrUnavailable, "ledger: signing checkpoint: %w", err)
	}
	return signed, nil
}
