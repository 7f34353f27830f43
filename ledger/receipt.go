package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/humanos/human/errs"
)

// hasher is the RFC 6962 SHA-256 tree hasher every log uses.
var hasher = rfc6962.DefaultHasher

// rangeFactory builds compact ranges with RFC 6962 node hashing.
var rangeFactory = &compact.RangeFactory{Hash: hashChildren}

// hashChildren is hasher.HashChildren, SHA-256(0x01 || l || r), computed
// over a stack buffer when both children are SHA-256 hashes (always, in a
// log that verifies), without the hash.Hash that rfc6962.Hasher allocates
// for every node.
func hashChildren(l, r []byte) []byte {
	if len(l) != sha256.Size || len(r) != sha256.Size {
		return hasher.HashChildren(l, r)
	}
	var b [1 + 2*sha256.Size]byte
	b[0] = rfc6962.RFC6962NodeHashPrefix
	copy(b[1:], l)
	copy(b[1+sha256.Size:], r)
	h := sha256.Sum256(b[:])
	return h[:]
}

// LeafHash returns the RFC 6962 leaf hash of a log entry.
func LeafHash(entry []byte) []byte { return hasher.HashLeaf(entry) }

// Receipt proves that Entry is in the log: its index, its leaf hash, the
// signed checkpoint it was proved against, and the inclusion proof from the
// leaf up to that checkpoint's root. Anyone holding the log's verifier key
// checks it offline with VerifyReceipt.
//
// Its text form (MarshalText, ParseReceipt) is a C2SP tlog-proof
// (c2sp.org/tlog-proof@v1) whose "extra" line carries the entry. A receipt
// without Entry encodes without that line; LeafHash is never encoded, since
// it is the hash of the entry: a verifier of such a receipt sets Entry (or
// LeafHash) from the data it holds.
type Receipt struct {
	Index      uint64
	LeafHash   []byte
	Entry      []byte
	Checkpoint []byte // signed note
	Proof      [][]byte
}

// receiptHeader is the first line of a C2SP tlog-proof.
const receiptHeader = "c2sp.org/tlog-proof@v1"

// maxReceipt bounds an encoded receipt: an entry, a checkpoint and at most
// 64 proof hashes, in base64.
const maxReceipt = 2*maxEntry + maxNote + 64*64

// MarshalText encodes the receipt as a C2SP tlog-proof. A receipt without
// a checkpoint, or with a proof hash that is not 32 bytes, is
// errs.ErrInvalidArgument.
func (r *Receipt) MarshalText() ([]byte, error) {
	if len(r.Checkpoint) == 0 {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "receipt %d: no checkpoint", r.Index)
	}
	if len(r.Proof) > 64 {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "receipt %d: %d proof hashes, at most 64", r.Index, len(r.Proof))
	}
	var b bytes.Buffer
	b.WriteString(receiptHeader + "\n")
	if r.Entry != nil {
		b.WriteString("extra ")
		b.WriteString(base64.StdEncoding.EncodeToString(r.Entry))
		b.WriteByte('\n')
	}
	b.WriteString("index ")
	b.WriteString(strconv.FormatUint(r.Index, 10))
	b.WriteByte('\n')
	for i, h := range r.Proof {
		if len(h) != hashSize {
			return nil, errs.Errorf(errs.ErrInvalidArgument, "receipt %d: proof hash %d has %d bytes, want %d", r.Index, i, len(h), hashSize)
		}
		b.WriteString(base64.StdEncoding.EncodeToString(h))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.Write(r.Checkpoint)
	return b.Bytes(), nil
}

// UnmarshalText decodes a C2SP tlog-proof into r, as ParseReceipt does.
func (r *Receipt) UnmarshalText(data []byte) error {
	p, err := ParseReceipt(data)
	if err != nil {
		return err
	}
	*r = *p
	return nil
}

// ParseReceipt decodes a receipt in C2SP tlog-proof text form. It checks
// the shape only (VerifyReceipt checks the signature and proof). When an
// entry is present LeafHash is set to its RFC 6962 leaf hash. Malformed
// input is errs.ErrInvalidArgument.
func ParseReceipt(data []byte) (*Receipt, error) {
	if len(data) > maxReceipt {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "receipt: %d bytes, limit %d", len(data), maxReceipt)
	}
	rest := string(data)
	next := func() (string, bool) {
		line, after, ok := strings.Cut(rest, "\n")
		if !ok {
			return "", false
		}
		rest = after
		return line, true
	}
	line, ok := next()
	if !ok || line != receiptHeader {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "receipt: first line must be %q", receiptHeader)
	}
	r := &Receipt{}
	if line, ok = next(); !ok {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "receipt: truncated after header")
	}
	if enc, found := strings.CutPrefix(line, "extra "); found {
		entry, err := base64.StdEncoding.Strict().DecodeString(enc)
		if err != nil {
			return nil, errs.Errorf(errs.ErrInvalidArgument, "receipt: extra line is not base64: %v", err)
		}
		r.Entry = entry
		r.LeafHash = LeafHash(entry)
		if line, ok = next(); !ok {
			return nil, errs.Errorf(errs.ErrInvalidArgument, "receipt: truncated after extra line")
		}
	}
	idx, found := strings.CutPrefix(line, "index ")
	if !found {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "receipt: want an \"index N\" line, got %q", line)
	}
	n, err := parseDecimal(idx)
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "receipt: index %q: %v", idx, err)
	}
	r.Index = n
	for {
		line, ok = next()
		if !ok {
			return nil, errs.Errorf(errs.ErrInvalidArgument, "receipt: missing empty line before the checkpoint")
		}
		if line == "" {
			break
		}
		if len(r.Proof) == 64 {
			return nil, errs.Errorf(errs.ErrInvalidArgument, "receipt: more than 64 proof hashes")
		}
		h, err := base64.StdEncoding.Strict().DecodeString(line)
		if err != nil || len(h) != hashSize {
			return nil, errs.Errorf(errs.ErrInvalidArgument, "receipt: proof line %d %q is not base64 of %d bytes", len(r.Proof)+1, line, hashSize)
		}
		r.Proof = append(r.Proof, h)
	}
	if rest == "" {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "receipt: no checkpoint")
	}
	r.Checkpoint = []byte(rest)
	return r, nil
}

// VerifyReceipt checks a receipt offline with only the log's verifier: the
// checkpoint's note signature and origin, that LeafHash is the RFC 6962
// leaf hash of Entry (when Entry is set; one of them must be), and the
// inclusion proof of the leaf at Index against the checkpoint's root. A
// bad signature, a wrong origin, a leaf hash mismatch or a proof that does
// not verify is errs.ErrUnauthenticated; malformed input is
// errs.ErrInvalidArgument.
func VerifyReceipt(r *Receipt, v note.Verifier) error {
	return verifyReceipt(r, func(signed []byte) (*Checkpoint, error) { return openCheckpoint(signed, v) })
}

// verifyReceipt is VerifyReceipt with the checkpoint opened by open.
func verifyReceipt(r *Receipt, open func(signed []byte) (*Checkpoint, error)) error {
	if r == nil {
		return errs.Errorf(errs.ErrInvalidArgument, "receipt: nil")
	}
	cp, err := open(r.Checkpoint)
	if err != nil {
		return err
	}
	leaf := r.LeafHash
	switch {
	case r.Entry != nil:
		leaf = LeafHash(r.Entry)
		if r.LeafHash != nil && !bytes.Equal(r.LeafHash, leaf) {
			return errs.Errorf(errs.ErrUnauthenticated, "receipt %d: leaf hash is not the hash of the entry", r.Index)
		}
	case len(leaf) != hashSize:
		return errs.Errorf(errs.ErrInvalidArgument, "receipt %d: needs the entry or its %d-byte leaf hash", r.Index, hashSize)
	}
	for i, h := range r.Proof {
		if len(h) != hashSize {
			return errs.Errorf(errs.ErrInvalidArgument, "receipt %d: proof hash %d has %d bytes, want %d", r.Index, i, len(h), hashSize)
		}
	}
	if err := proof.VerifyInclusion(hasher, r.Index, cp.Size, leaf, r.Proof, cp.Hash); err != nil {
		return errs.Errorf(errs.ErrUnauthenticated, "receipt %d: inclusion in checkpoint of size %d does not verify: %v", r.Index, cp.Size, err)
	}
	return nil
}

// VerifyConsistency checks that the log at newCheckpoint is an append-only
// extension of the log at oldCheckpoint: both notes signed by v, and proof
// a valid RFC 6962 consistency proof between their roots. Two checkpoints
// of one size must carry the same root. A fork (two trees that disagree),
// a bad signature or a bad proof is errs.ErrUnauthenticated; an old
// checkpoint larger than the new one, or malformed input, is
// errs.ErrInvalidArgument.
func VerifyConsistency(oldCheckpoint, newCheckpoint []byte, proofHashes [][]byte, v note.Verifier) error {
	oldCp, err := openCheckpoint(oldCheckpoint, v)
	if err != nil {
		return err
	}
	newCp, err := openCheckpoint(newCheckpoint, v)
	if err != nil {
		return err
	}
	if oldCp.Size > newCp.Size {
		return errs.Errorf(errs.ErrInvalidArgument, "consistency: old checkpoint size %d > new size %d", oldCp.Size, newCp.Size)
	}
	for i, h := range proofHashes {
		if len(h) != hashSize {
			return errs.Errorf(errs.ErrInvalidArgument, "consistency: proof hash %d has %d bytes, want %d", i, len(h), hashSize)
		}
	}
	if oldCp.Size == 0 && !bytes.Equal(oldCp.Hash, hasher.EmptyRoot()) {
		return errs.Errorf(errs.ErrUnauthenticated, "consistency: checkpoint of size 0 has a non-empty root")
	}
	if err := proof.VerifyConsistency(hasher, oldCp.Size, newCp.Size, proofHashes, oldCp.Hash, newCp.Hash); err != nil {
		return errs.Errorf(errs.ErrUnauthenticated, "consistency: sizes %d and %d: %v", oldCp.Size, newCp.Size, err)
	}
	return nil
}

// VerifyEntries recomputes the Merkle tree of entries (the whole log, from
// index 0) and checks it against the signed checkpoint: the signature, the
// size and the root hash. This is the full audit that detects any changed,
// deleted, reordered or inserted entry. A mismatch or bad signature is
// errs.ErrUnauthenticated.
func VerifyEntries(entries [][]byte, checkpoint []byte, v note.Verifier) error {
	cp, err := openCheckpoint(checkpoint, v)
	if err != nil {
		return err
	}
	if uint64(len(entries)) != cp.Size {
		return errs.Errorf(errs.ErrUnauthenticated, "audit: %d entries, the checkpoint says %d", len(entries), cp.Size)
	}
	root, err := rootOf(entries)
	if err != nil {
		return err
	}
	if !bytes.Equal(root, cp.Hash) {
		return errs.Errorf(errs.ErrUnauthenticated, "audit: the root of the %d entries is not the checkpoint's root", len(entries))
	}
	return nil
}

// rootOf computes the RFC 6962 root of entries.
func rootOf(entries [][]byte) ([]byte, error) {
	rng := rangeFactory.NewEmptyRange(0)
	for _, e := range entries {
		if err := rng.Append(LeafHash(e), nil); err != nil {
			return nil, errs.Errorf(errs.ErrInvalidArgument, "audit: %v", err)
		}
	}
	root, err := rng.GetRootHash(nil)
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "audit: %v", err)
	}
	if root == nil {
		root = hasher.EmptyRoot()
	}
	return root, nil
}
