package store

import (
	"encoding/binary"
	"errors"
	"time"
)

// Sessions are read on every request that carries a session cookie, so the
// bolt backend stores them in a compact binary form instead of JSON:
//
//	version(1) | created, idle_expires, expires (3 × int64 Unix ns) |
//	len(csrf_hash) uint16 | csrf_hash | user
//
// The id hash is the record's key and is not repeated in the value.
const sessionCodecVersion = 1

func encodeSession(s Session) []byte {
	v := make([]byte, 0, 1+3*8+2+len(s.CSRFHash)+len(s.User))
	v = append(v, sessionCodecVersion)
	for _, t := range []time.Time{s.Created, s.IdleExpires, s.Expires} {
		v = binary.BigEndian.AppendUint64(v, uint64(t.UnixNano()))
	}
	v = binary.BigEndian.AppendUint16(v, uint16(len(s.CSRFHash)))
	v = append(v, s.CSRFHash...)
	return append(v, s.User...)
}

var errBadSessionRecord = errors.New("malformed session record")

// decodeSession decodes a value written by encodeSession. The returned
// slices are copies: bolt's memory is only valid inside its transaction,
// and callers may keep or change what they get.
func decodeSession(idHash, v []byte) (Session, error) {
	const fixed = 1 + 3*8 + 2
	if len(v) < fixed || v[0] != sessionCodecVersion {
		return Session{}, errBadSessionRecord
	}
	n := int(binary.BigEndian.Uint16(v[1+3*8:]))
	if len(v) < fixed+n {
		return Session{}, errBadSessionRecord
	}
	at := func(i int) time.Time {
		return time.Unix(0, int64(binary.BigEndian.Uint64(v[1+8*i:]))).UTC()
	}
	return Session{
		IDHash:      append([]byte(nil), idHash...),
		User:        string(v[fixed+n:]),
		CSRFHash:    append([]byte(nil), v[fixed:fixed+n]...),
		Created:     at(0),
		IdleExpires: at(1),
		Expires:     at(2),
	}, nil
}
