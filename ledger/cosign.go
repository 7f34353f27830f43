package ledger

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
)

// algCosignatureV1 is the C2SP signed-note signature type of an Ed25519
// tlog-cosignature (cosignature/v1): the byte in its key ID and vkey.
const algCosignatureV1 = 0x04

// cosigSize is the size of a cosignature/v1 signature after the key ID:
// a big-endian u64 timestamp and an Ed25519 signature.
const cosigSize = 8 + ed25519.SignatureSize

// cosignatureKeyHash is the C2SP tlog-cosignature key ID:
// SHA-256(name || "\n" || 0x04 || public key)[:4].
func cosignatureKeyHash(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', algCosignatureV1})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// cosignedMessage is what a cosignature/v1 signs: the header line, the
// time line and the whole note body of the checkpoint.
func cosignedMessage(t uint64, body []byte) []byte {
	m := make([]byte, 0, len(body)+40)
	m = append(m, "cosignature/v1\ntime "...)
	m = strconv.AppendUint(m, t, 10)
	m = append(m, '\n')
	return append(m, body...)
}

// CosignatureVerifierKey returns the C2SP vkey of an Ed25519 cosigner
// (witness) named name: "name+keyID+base64(0x04 || key)". A bad name or
// key is errs.ErrInvalidArgument.
func CosignatureVerifierKey(name string, pub passport.PublicKey) (string, error) {
	if pub.Suite != passport.SuiteEd25519 {
		return "", errs.Errorf(errs.ErrInvalidArgument, "cosigner %q: suite %q, cosignature/v1 needs %q", name, pub.Suite, passport.SuiteEd25519)
	}
	if err := pub.Validate(); err != nil {
		return "", err
	}
	if err := validOrigin(name); err != nil {
		return "", errs.Errorf(errs.ErrInvalidArgument, "cosigner name: %v", err)
	}
	key := append([]byte{algCosignatureV1}, pub.Key...)
	return name + "+" + strconv.FormatUint(uint64(cosignatureKeyHash(name, pub.Key))|1<<32, 16)[1:] + "+" + base64.StdEncoding.EncodeToString(key), nil
}

// cosigVerifier verifies C2SP cosignature/v1 note signatures.
type cosigVerifier struct {
	name string
	hash uint32
	key  ed25519.PublicKey
}

func (v *cosigVerifier) Name() string    { return v.name }
func (v *cosigVerifier) KeyHash() uint32 { return v.hash }

// Verify checks sig (timestamp || Ed25519 signature, the key ID already
// stripped by note.Open) over msg, the checkpoint's note body.
func (v *cosigVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != cosigSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig)
	if t > math.MaxInt64 || bytes.Count(msg, []byte{'\n'}) < 3 {
		return false
	}
	return ed25519.Verify(v.key, cosignedMessage(t, msg), sig[8:])
}

// NewCosignatureVerifier parses a witness's cosignature/v1 verifier key
// (as Witness.VerifierKey and CosignatureVerifierKey return, signature type
// 0x04) into a verifier for Policy.Witnesses. A malformed key, another
// signature type or a key ID that does not match is
// errs.ErrInvalidArgument.
func NewCosignatureVerifier(vkey string) (note.Verifier, error) {
	name, rest, ok1 := strings.Cut(vkey, "+")
	hash16, key64, ok2 := strings.Cut(rest, "+")
	raw, err := base64.StdEncoding.Strict().DecodeString(key64)
	if !ok1 || !ok2 || err != nil || len(hash16) != 8 || validOrigin(name) != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "cosignature verifier key %q is malformed", vkey)
	}
	if len(raw) != 1+ed25519.PublicKeySize || raw[0] != algCosignatureV1 {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "cosignature verifier key %q is not an Ed25519 cosignature/v1 key (type 0x04)", vkey)
	}
	hash, err := strconv.ParseUint(hash16, 16, 32)
	key := ed25519.PublicKey(raw[1:])
	if err != nil || uint32(hash) != cosignatureKeyHash(name, key) {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "cosignature verifier key %q: key ID does not match the key", vkey)
	}
	return &cosigVerifier{name: name, hash: uint32(hash), key: key}, nil
}

// cosign returns the note signature line of a cosignature/v1 by signer,
// named name with key ID hash, over the checkpoint note body at time t.
func cosign(name string, hash uint32, signer passport.Signer, t uint64, body []byte) ([]byte, error) {
	sig, err := signer.Sign(cosignedMessage(t, body))
	if err != nil {
		return nil, errs.Errorf(errs.ErrUnavailable, "witness %q: signing cosignature: %w", name, err)
	}
	if len(sig) != ed25519.SignatureSize {
		return nil, errs.Errorf(errs.ErrFailedPrecondition, "witness %q: signer returned %d bytes, want an Ed25519 signature", name, len(sig))
	}
	raw := make([]byte, 0, 4+cosigSize)
	raw = binary.BigEndian.AppendUint32(raw, hash)
	raw = binary.BigEndian.AppendUint64(raw, t)
	raw = append(raw, sig...)
	line := make([]byte, 0, len(name)+130)
	line = append(line, "\u2014 "...)
	line = append(line, name...)
	line = append(line, ' ')
	line = base64.StdEncoding.AppendEncode(line, raw)
	return append(line, '\n'), nil
}

// AddCosignatures appends note signature lines (as Witness.AddCheckpoint
// returns them) to a signed checkpoint. It checks only their shape (one or
// more "— name base64" lines); Policy.VerifyCheckpoint checks them. A
// malformed line is errs.ErrInvalidArgument.
func AddCosignatures(signed []byte, lines ...[]byte) ([]byte, error) {
	if !bytes.Contains(signed, []byte("\n\n")) || !bytes.HasSuffix(signed, []byte("\n")) {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "cosign: not a signed note")
	}
	out := bytes.Clone(signed)
	for _, l := range lines {
		for _, sl := range strings.SplitAfter(string(l), "\n") {
			if sl == "" {
				continue
			}
			name, sig, ok := strings.Cut(strings.TrimPrefix(sl, "\u2014 "), " ")
			if !strings.HasPrefix(sl, "\u2014 ") || !strings.HasSuffix(sl, "\n") || !ok || validOrigin(name) != nil {
				return nil, errs.Errorf(errs.ErrInvalidArgument, "cosign: %q is not a note signature line", sl)
			}
			if _, err := base64.StdEncoding.Strict().DecodeString(strings.TrimSuffix(sig, "\n")); err != nil {
				return nil, errs.Errorf(errs.ErrInvalidArgument, "cosign: signature of %q is not base64", name)
			}
			out = append(out, sl...)
		}
	}
	if len(out) > maxNote {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "cosign: %d bytes, limit %d", len(out), maxNote)
	}
	return out, nil
}

// Policy is what a verifier requires of a checkpoint: the log's signature
// and cosignatures by at least Quorum distinct witnesses out of Witnesses
// (k of n). Cosignatures by keys not in Witnesses are ignored, and so is
// a bad cosignature by a listed one: neither counts. Quorum 0 requires
// only the log's signature. Use it where VerifyReceipt and VerifyExport
// take a bare verifier: Policy.VerifyReceipt, VerifyExportOptions.Policy.
type Policy struct {
	// Log verifies the log's own checkpoint signature (NewVerifier).
	Log note.Verifier
	// Witnesses are the trusted cosigners (NewCosignatureVerifier, or
	// Witness.Verifier).
	Witnesses []note.Verifier
	// Quorum is how many distinct Witnesses must have cosigned.
	Quorum int
}

// VerifyCheckpoint checks a signed checkpoint against the policy and
// returns it parsed: the log's signature and origin (as VerifyReceipt
// does), then at least Quorum valid cosignatures by distinct Witnesses. Too
// few cosignatures, or a bad log signature, is errs.ErrUnauthenticated; a
// policy with a nil Log, Quorum < 0 or Quorum above the number of distinct
// Witnesses, or malformed input, is errs.ErrInvalidArgument.
func (p *Policy) VerifyCheckpoint(signed []byte) (*Checkpoint, error) {
	if p == nil || p.Log == nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "policy: no log verifier")
	}
	type keyID struct {
		name string
		hash uint32
	}
	witnesses := make(map[keyID]note.Verifier, len(p.Witnesses))
	for _, w := range p.Witnesses {
		if w == nil {
			return nil, errs.Errorf(errs.ErrInvalidArgument, "policy: nil witness verifier")
		}
		witnesses[keyID{w.Name(), w.KeyHash()}] = w
	}
	if p.Quorum < 0 || p.Quorum > len(witnesses) {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "policy: quorum %d of %d distinct witnesses", p.Quorum, len(witnesses))
	}
	cp, n, err := openNote(signed, p.Log)
	if err != nil {
		return nil, err
	}
	seen := make(map[keyID]bool)
	for _, s := range n.UnverifiedSigs {
		id := keyID{s.Name, s.Hash}
		w, ok := witnesses[id]
		if !ok || seen[id] {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(s.Base64)
		if err != nil || len(raw) < 4 {
			continue
		}
		if w.Verify([]byte(n.Text), raw[4:]) {
			seen[id] = true
		}
	}
	if len(seen) < p.Quorum {
		return nil, errs.Errorf(errs.ErrUnauthenticated, "checkpoint of %s at size %d: %d valid cosignatures of the %d required", cp.Origin, cp.Size, len(seen), p.Quorum)
	}
	return cp, nil
}

// VerifyReceipt is VerifyReceipt with the receipt's checkpoint checked
// against the policy (VerifyCheckpoint) instead of a bare log verifier.
func (p *Policy) VerifyReceipt(r *Receipt) error {
	return verifyReceipt(r, p.VerifyCheckpoint)
}

// openNote verifies a signed checkpoint with the log verifier v (other
// signatures are left in Note.UnverifiedSigs) and parses it, as
// openCheckpoint does.
func openNote(signed []byte, v note.Verifier) (*Checkpoint, *note.Note, error) {
	if v == nil {
		return nil, nil, errs.Errorf(errs.ErrInvalidArgument, "checkpoint: nil verifier")
	}
	if len(signed) > maxNote {
		return nil, nil, errs.Errorf(errs.ErrInvalidArgument, "checkpoint: %d bytes, limit %d", len(signed), maxNote)
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		switch {
		case errors.As(err, &unverified):
			return nil, nil, errs.Errorf(errs.ErrUnauthenticated, "checkpoint is not signed by %s+%08x", v.Name(), v.KeyHash())
		case errors.As(err, &invalid):
			return nil, nil, errs.Errorf(errs.ErrUnauthenticated, "checkpoint: %v", err)
		}
		return nil, nil, errs.Errorf(errs.ErrInvalidArgument, "checkpoint: signed note: %v", err)
	}
	cp, err := ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return nil, nil, err
	}
	if cp.Origin != v.Name() {
		return nil, nil, errs.Errorf(errs.ErrUnauthenticated, "checkpoint origin %q is not the verifier's log %q", cp.Origin, v.Name())
	}
	return cp, n, nil
}
