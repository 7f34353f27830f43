package ledger

import (
	"bytes"
	"crypto/rand"
	"testing"
)

// TestHashChildren checks the stack-buffer node hash against
// rfc6962.DefaultHasher on random SHA-256-sized children and on children
// of other sizes (the fallback).
func TestHashChildren(t *testing.T) {
	for i := range 200 {
		l, r := make([]byte, 32), make([]byte, 32)
		if i%10 == 9 {
			l, r = make([]byte, i%7), make([]byte, 33)
		}
		rand.Read(l)
		rand.Read(r)
		if got, want := hashChildren(l, r), hasher.HashChildren(l, r); !bytes.Equal(got, want) {
			t.Fatalf("hashChildren(%x, %x) = %x, want %x", l, r, got, want)
		}
	}
}
