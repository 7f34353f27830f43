package ledger

import (
	"encoding/json"
	"time"
	"unicode/utf8"
)

// This file holds the attestation hot path's JSON: the statement encoder
// (sealStatement builds the payload bytes once, instead of reflecting over
// the Statement and re-compacting its predicate) and the predicate field
// scanner behind IndexFields (it walks the top-level keys once, instead of
// decoding the predicate into a struct). Both handle the common case by hand
// and defer to encoding/json for anything unusual, so their output is
// byte-for-byte (encoder) and field-for-field (scanner) what encoding/json
// gives: FuzzPredicateScan and FuzzStatementEncoding check that.

// appendStatement appends st's JSON, exactly as json.Marshal(st) writes it.
func appendStatement(b []byte, st *Statement) ([]byte, error) {
	b = append(b, `{"_type":`...)
	b = appendJSONString(b, st.Type)
	b = append(b, `,"subject":`...)
	if st.Subject == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, s := range st.Subject {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"name":`...)
			b = appendJSONString(b, s.Name)
			b = append(b, `,"digest":`...)
			switch {
			case s.Digest == nil:
				b = append(b, "null"...)
			case len(s.Digest) == 1:
				b = append(b, '{')
				for k, v := range s.Digest {
					b = appendJSONString(b, k)
					b = append(b, ':')
					b = appendJSONString(b, v)
				}
				b = append(b, '}')
			default:
				raw, err := json.Marshal(s.Digest) // sorts the keys
				if err != nil {
					return nil, err
				}
				b = append(b, raw...)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"predicateType":`...)
	b = appendJSONString(b, st.PredicateType)
	b = append(b, `,"predicate":`...)
	if st.Predicate == nil { // as RawMessage.MarshalJSON; empty is an error
		b = append(b, "null"...)
	} else if st.encoded() {
		// NewStatement's own encoding: compact, valid, HTML-escaped.
		b = append(b, st.Predicate...)
	} else {
		// Validates, compacts and HTML-escapes, as json.Marshal does.
		raw, err := json.Marshal(st.Predicate)
		if err != nil {
			return nil, err
		}
		b = append(b, raw...)
	}
	return append(b, '}'), nil
}

// encoded reports whether st.Predicate is still the slice NewStatement
// encoded (same array, same length), which json.Marshal produced compact
// and valid.
func (st *Statement) encoded() bool {
	return len(st.Predicate) > 0 && len(st.enc) == len(st.Predicate) && &st.enc[0] == &st.Predicate[0]
}

// appendJSONString appends s quoted as encoding/json quotes it (HTML-safe
// escaping, invalid UTF-8 replaced): by hand when s is plain printable
// ASCII, by encoding/json otherwise.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			raw, _ := json.Marshal(s) // a string always encodes
			return append(b, raw...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// predicateFields is what IndexFields reads from a predicate.
type predicateFields struct {
	Org       string          `json:"org"`
	Actor     string          `json:"actor"`
	Agent     string          `json:"agent"`
	Requester string          `json:"requester"`
	Approver  string          `json:"approver"`
	Signer    string          `json:"signer"`
	Action    string          `json:"action"`
	Change    string          `json:"change"`
	Kind      string          `json:"kind"`
	Resource  string          `json:"resource"`
	Task      string          `json:"task"`
	To        string          `json:"to"`
	Time      json.RawMessage `json:"time"`
	Event     json.RawMessage `json:"event"`
}

// decodePredicate fills p from raw as json.Unmarshal(raw, p) does, fields
// of an unexpected type left empty and the error ignored. valid says raw is
// known to be valid JSON (it was compacted or decoded by encoding/json).
func decodePredicate(raw []byte, p *predicateFields, valid bool) {
	if (!valid && !json.Valid(raw)) || !scanPredicate(raw, p) {
		*p = predicateFields{}
		_ = json.Unmarshal(raw, p)
	}
}

// scanPredicate fills p from raw, which must be valid JSON, by walking its
// top-level object. It returns false, with p partly filled, for what it
// leaves to encoding/json: not an object, a key with an escape or non-ASCII
// byte, a key equal to one of p's but for case, a string value of p's with
// an escape, a control or a non-ASCII byte.
func scanPredicate(raw []byte, p *predicateFields) bool {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return false
	}
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		return true
	}
	for i < len(raw) {
		// Key.
		if raw[i] != '"' {
			return false
		}
		end := i + 1
		for end < len(raw) && raw[end] != '"' {
			if c := raw[end]; c == '\\' || c >= utf8.RuneSelf {
				return false
			}
			end++
		}
		if end >= len(raw) {
			return false
		}
		key := raw[i+1 : end]
		i = skipSpace(raw, end+1)
		if i >= len(raw) || raw[i] != ':' {
			return false
		}
		i = skipSpace(raw, i+1)
		// Value.
		vend := skipValue(raw, i)
		if vend <= i {
			return false
		}
		val := raw[i:vend]
		str, raws := predicateField(p, key)
		switch {
		case str != nil:
			if val[0] == '"' {
				s, ok := plainString(val)
				if !ok {
					return false
				}
				*str = s
			}
			// null leaves the field as it is; other types are skipped.
		case raws != nil:
			*raws = val
		case foldsToPredicateField(key):
			return false
		}
		i = skipSpace(raw, vend)
		if i >= len(raw) {
			return false
		}
		switch raw[i] {
		case ',':
			i = skipSpace(raw, i+1)
		case '}':
			return true
		default:
			return false
		}
	}
	return false
}

// predicateField returns where key's value goes: a string field, a raw
// field, or neither.
func predicateField(p *predicateFields, key []byte) (*string, *json.RawMessage) {
	switch string(key) {
	case "org":
		return &p.Org, nil
	case "actor":
		return &p.Actor, nil
	case "agent":
		return &p.Agent, nil
	case "requester":
		return &p.Requester, nil
	case "approver":
		return &p.Approver, nil
	case "signer":
		return &p.Signer, nil
	case "action":
		return &p.Action, nil
	case "change":
		return &p.Change, nil
	case "kind":
		return &p.Kind, nil
	case "resource":
		return &p.Resource, nil
	case "task":
		return &p.Task, nil
	case "to":
		return &p.To, nil
	case "time":
		return nil, &p.Time
	case "event":
		return nil, &p.Event
	}
	return nil, nil
}

// foldsToPredicateField reports whether key (ASCII) matches a field name
// case-insensitively, as encoding/json matches keys.
func foldsToPredicateField(key []byte) bool {
	var low [len("requester")]byte // the longest name
	if len(key) > len(low) {
		return false
	}
	for i, c := range key {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		low[i] = c
	}
	var p predicateFields
	str, raw := predicateField(&p, low[:len(key)])
	return str != nil || raw != nil
}

// plainString returns the contents of a JSON string token without escapes,
// controls or non-ASCII bytes; ok is false otherwise.
func plainString(tok []byte) (string, bool) {
	body := tok[1 : len(tok)-1]
	for _, c := range body {
		if c < 0x20 || c == '\\' || c >= utf8.RuneSelf {
			return "", false
		}
	}
	return string(body), true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipValue returns the end of the JSON value starting at b[i] (b valid
// JSON), or -1 when it cannot find one.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				if i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	default: // number, true, false, null
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return i
	}
}

// skipString returns the end of the JSON string starting at b[i].
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// predicateTime parses a predicate's raw "time" as json.Unmarshal into a
// time.Time does; ok is false when it is not a time.
func predicateTime(raw []byte) (time.Time, bool) {
	var t time.Time
	if err := t.UnmarshalJSON(raw); err != nil {
		return time.Time{}, false
	}
	return t, true
}
