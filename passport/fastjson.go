package passport

import (
	"encoding/base64"
	"strconv"
	"time"
)

// canonReader decodes, without reflection, the JSON that encoding/json's
// Marshal writes for this package's envelopes and payloads: no
// whitespace, fields in declaration order (omitempty fields may be
// absent), map keys ascending, strings of printable ASCII without
// escapes, numbers in JSON syntax. It is a fast path only: on any other
// input it gives up (ok false) and the caller decodes with encoding/json,
// so which inputs are accepted, and what they decode to, never depends on
// it (FuzzCanonicalDecoders checks that both agree).
type canonReader struct {
	b  []byte
	i  int
	ok bool
}

func newCanonReader(b []byte) *canonReader { return &canonReader{b: b, ok: true} }

// lit consumes s, or gives up.
func (r *canonReader) lit(s string) {
	if !r.ok || len(r.b)-r.i < len(s) || string(r.b[r.i:r.i+len(s)]) != s {
		r.ok = false
		return
	}
	r.i += len(s)
}

// peek reports whether s comes next (without consuming it).
func (r *canonReader) peek(s string) bool {
	return r.ok && len(r.b)-r.i >= len(s) && string(r.b[r.i:r.i+len(s)]) == s
}

// opt consumes s if it comes next and reports whether it did.
func (r *canonReader) opt(s string) bool {
	if r.peek(s) {
		r.i += len(s)
		return true
	}
	return false
}

// raw consumes a string and returns its content, printable ASCII without
// '"' or '\\' (what encoding/json decodes to exactly these bytes).
func (r *canonReader) raw() []byte {
	r.lit(`"`)
	if !r.ok {
		return nil
	}
	start := r.i
	for ; r.i < len(r.b); r.i++ {
		c := r.b[r.i]
		if c == '"' {
			r.i++
			return r.b[start : r.i-1]
		}
		if c < 0x20 || c > 0x7e || c == '\\' {
			break
		}
	}
	r.ok = false
	return nil
}

func (r *canonReader) str() string { return string(r.raw()) }

// bytes decodes a base64 (standard, padded) string as encoding/json does
// for a []byte.
func (r *canonReader) bytes() []byte {
	s := r.raw()
	if !r.ok {
		return nil
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
	n, err := base64.StdEncoding.Decode(out, s)
	if err != nil {
		r.ok = false
		return nil
	}
	return out[:n]
}

// time decodes a string with time.Time's own UnmarshalJSON, as
// encoding/json does.
func (r *canonReader) time() time.Time {
	start := r.i
	r.raw()
	var t time.Time
	if r.ok && t.UnmarshalJSON(r.b[start:r.i]) != nil {
		r.ok = false
	}
	return t
}

// number consumes a JSON number and returns its text.
func (r *canonReader) number(intOnly bool) string {
	if !r.ok {
		return ""
	}
	start := r.i
	digits := func() int {
		n := 0
		for r.i < len(r.b) && r.b[r.i] >= '0' && r.b[r.i] <= '9' {
			r.i++
			n++
		}
		return n
	}
	if r.i < len(r.b) && r.b[r.i] == '-' {
		r.i++
	}
	if r.i < len(r.b) && r.b[r.i] == '0' {
		r.i++
	} else if digits() == 0 {
		r.ok = false
		return ""
	}
	if !intOnly {
		if r.i < len(r.b) && r.b[r.i] == '.' {
			r.i++
			if digits() == 0 {
				r.ok = false
				return ""
			}
		}
		if r.i < len(r.b) && (r.b[r.i] == 'e' || r.b[r.i] == 'E') {
			r.i++
			if r.i < len(r.b) && (r.b[r.i] == '+' || r.b[r.i] == '-') {
				r.i++
			}
			if digits() == 0 {
				r.ok = false
				return ""
			}
		}
	}
	return string(r.b[start:r.i])
}

func (r *canonReader) int64() int64 {
	s := r.number(true)
	if !r.ok {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		r.ok = false
	}
	return n
}

func (r *canonReader) float() float64 {
	s := r.number(false)
	if !r.ok {
		return 0
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		r.ok = false
	}
	return f
}

// strings decodes an array of strings (never null).
func (r *canonReader) strings() []string {
	r.lit("[")
	out := make([]string, 0, 4)
	if r.opt("]") {
		return out
	}
	for r.ok {
		out = append(out, r.str())
		if r.opt("]") {
			return out
		}
		r.lit(",")
	}
	return nil
}

// end reports success when the input is used up.
func (r *canonReader) end() bool { return r.ok && r.i == len(r.b) }

func (r *canonReader) publicKeys() []PublicKey {
	r.lit("[")
	var out []PublicKey
	for r.ok {
		var k PublicKey
		r.lit(`{"suite":`)
		k.Suite = Suite(r.str())
		r.lit(`,"key":`)
		k.Key = r.bytes()
		r.lit("}")
		out = append(out, k)
		if r.opt("]") {
			return out
		}
		r.lit(",")
	}
	return nil
}

// decodeEnvelopeCanon is the fast path of ParseEnvelope's json.Unmarshal.
func decodeEnvelopeCanon(data []byte) (Envelope, bool) {
	var e Envelope
	r := newCanonReader(data)
	r.lit(`{"payloadType":`)
	e.PayloadType = r.str()
	r.lit(`,"payload":`)
	e.Payload = r.bytes()
	r.lit(`,"signatures":[`)
	e.Signatures = make([]Signature, 0, 2)
	for r.ok {
		var s Signature
		r.lit("{")
		if r.opt(`"keyid":`) {
			s.KeyID = r.str()
			r.lit(",")
		}
		r.lit(`"sig":`)
		s.Sig = r.bytes()
		r.lit("}")
		e.Signatures = append(e.Signatures, s)
		if r.opt("]") {
			break
		}
		r.lit(",")
	}
	r.lit("}")
	return e, r.end()
}

// decodeEventCanon is the fast path of decodeStrict for an event payload.
func decodeEventCanon(data []byte) (event, bool) {
	var ev event
	r := newCanonReader(data)
	r.lit(`{"type":`)
	ev.Type = r.str()
	if r.opt(`,"did":`) {
		ev.DID = r.str()
	}
	if r.opt(`,"seq":`) {
		n := r.int64()
		ev.Seq = int(n)
		if int64(ev.Seq) != n {
			r.ok = false
		}
	}
	if r.opt(`,"prev":`) {
		ev.Prev = r.str()
	}
	if r.opt(`,"kind":`) {
		ev.Kind = Kind(r.str())
	}
	if r.opt(`,"keys":`) {
		ev.Keys = r.publicKeys()
	}
	if r.opt(`,"name":`) {
		ev.Name = r.str()
	}
	if r.opt(`,"reason":`) {
		ev.Reason = r.str()
	}
	if r.opt(`,"guardians":`) {
		ev.Guardians = r.strings()
	}
	if r.opt(`,"threshold":`) {
		n := r.int64()
		ev.Threshold = int(n)
		if int64(ev.Threshold) != n {
			r.ok = false
		}
	}
	if r.opt(`,"recovery_delay":`) {
		ev.RecoveryDelay = r.int64()
	}
	r.lit(`,"created":`)
	ev.Created = r.time()
	r.lit("}")
	return ev, r.end()
}

// decodeDelegationCanon is the fast path of decodeStrict for a
// delegation payload.
func decodeDelegationCanon(data []byte) (delegationPayload, bool) {
	var p delegationPayload
	r := newCanonReader(data)
	r.lit(`{"issuer":`)
	p.Issuer = r.str()
	r.lit(`,"subject":`)
	p.Subject = r.str()
	r.lit(`,"scope":{"actions":`)
	p.Scope.Actions = r.strings()
	if r.opt(`,"resources":`) {
		p.Scope.Resources = r.strings()
	}
	if r.opt(`,"limits":{`) {
		p.Scope.Limits = make(map[string]float64, 4)
		last := ""
		for first := true; r.ok && !r.opt("}"); first = false {
			if !first {
				r.lit(",")
			}
			name := r.str()
			if !first && name <= last {
				r.ok = false // unsorted or repeated: leave it to encoding/json
			}
			r.lit(":")
			p.Scope.Limits[name] = r.float()
			last = name
		}
	}
	r.lit(`},"not_before":`)
	p.NotBefore = r.time()
	r.lit(`,"expires":`)
	p.Expires = r.time()
	r.lit(`,"parent":`)
	p.Parent = r.str()
	r.lit(`,"created":`)
	p.Created = r.time()
	r.lit(`,"nonce":`)
	p.Nonce = r.str()
	r.lit("}")
	return p, r.end()
}

// plainJSON reports whether json.Marshal writes s as itself between quotes:
// printable ASCII without the characters it escapes ('"', '\\', and the
// HTML-sensitive '<', '>', '&').
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// appendEnvelopeCanon appends what json.Marshal writes for e, byte for
// byte (FuzzEnvelopeMarshal checks it), without reflection; ok is false
// when a string needs escaping, and the caller falls back to json.Marshal.
func appendEnvelopeCanon(dst []byte, e *Envelope) (_ []byte, ok bool) {
	if !plainJSON(e.PayloadType) {
		return dst, false
	}
	for _, s := range e.Signatures {
		if !plainJSON(s.KeyID) {
			return dst, false
		}
	}
	b64 := func(dst, v []byte) []byte {
		if v == nil {
			return append(dst, "null"...)
		}
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, v)
		return append(dst, '"')
	}
	dst = append(dst, `{"payloadType":"`...)
	dst = append(dst, e.PayloadType...)
	dst = append(dst, `","payload":`...)
	dst = b64(dst, e.Payload)
	dst = append(dst, `,"signatures":`...)
	if e.Signatures == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i, s := range e.Signatures {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, '{')
			if s.KeyID != "" {
				dst = append(dst, `"keyid":"`...)
				dst = append(dst, s.KeyID...)
				dst = append(dst, `",`...)
			}
			dst = append(dst, `"sig":`...)
			dst = b64(dst, s.Sig)
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	return append(dst, '}'), true
}
