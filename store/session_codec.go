package store

import (
	"encoding/binary"
	"errors"
	"slices"
	"time"
)

// Sessions are read on every request that carries a session cookie, so the
// bolt backend stores them in a compact binary form instead of JSON:
//
//	version(1) | created, idle_expires, expires (3 × int64 Unix ns) |
//	len(csrf_hash) uint16 | csrf_hash | len(client_addr) uint8 | client_addr | user
//
// Version 1 records (written before the client address was kept) have no
// client_addr fields and are still read. The id hash is the record's key
// and is not repeated in the value.
const sessionCodecVersion = 2

// maxClientAddrBytes bounds the stored client address (an IP address is
// far shorter; anything longer is cut).
const maxClientAddrBytes = 255

func encodeSession(s Session) []byte {
	addr := s.ClientAddr
	if len(addr) > maxClientAddrBytes {
		addr = addr[:maxClientAddrBytes]
	}
	v := make([]byte, 0, 1+3*8+2+len(s.CSRFHash)+1+len(addr)+len(s.User))
	v = append(v, sessionCodecVersion)
	for _, t := range []time.Time{s.Created, s.IdleExpires, s.Expires} {
		v = binary.BigEndian.AppendUint64(v, uint64(t.UnixNano()))
	}
	v = binary.BigEndian.AppendUint16(v, uint16(len(s.CSRFHash)))
	v = append(v, s.CSRFHash...)
	v = append(v, byte(len(addr)))
	v = append(v, addr...)
	return append(v, s.User...)
}

var errBadSessionRecord = errors.New("malformed session record")

// decodeSession decodes a value written by encodeSession. The returned
// slices are copies: bolt's memory is only valid inside its transaction,
// and callers may keep or change what they get.
func decodeSession(idHash, v []byte) (Session, error) {
	const fixed = 1 + 3*8 + 2
	if len(v) < fixed || (v[0] != 1 && v[0] != sessionCodecVersion) {
		return Session{}, errBadSessionRecord
	}
	n := int(binary.BigEndian.Uint16(v[1+3*8:]))
	if len(v) < fixed+n {
		return Session{}, errBadSessionRecord
	}
	// User and client address share one string: a session read on every
	// request allocates no more than before the address was kept.
	csrf, rest := v[fixed:fixed+n], string(v[fixed+n:])
	var addr string
	if v[0] == sessionCodecVersion {
		if len(rest) < 1 || len(rest) < 1+int(rest[0]) {
			return Session{}, errBadSessionRecord
		}
		addr, rest = rest[1:1+int(rest[0])], rest[1+int(rest[0]):]
	}
	at := func(i int) time.Time {
		return time.Unix(0, int64(binary.BigEndian.Uint64(v[1+8*i:]))).UTC()
	}
	return Session{
		IDHash:      slices.Clip(append([]byte(nil), idHash...)),
		User:        rest,
		ClientAddr:  addr,
		CSRFHash:    slices.Clip(append([]byte(nil), csrf...)),
		Created:     at(0),
		IdleExpires: at(1),
		Expires:     at(2),
	}, nil
}
