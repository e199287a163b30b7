package store

import (
	"encoding/binary"
	"testing"
	"time"
)

// TestSessionCodecReadsVersion1: sessions stored before the client address
// was kept stay valid after an upgrade.
func TestSessionCodecReadsVersion1(t *testing.T) {
	now := time.Unix(1_700_000_000, 0).UTC()
	v := []byte{1}
	for _, at := range []time.Time{now, now.Add(time.Hour), now.Add(2 * time.Hour)} {
		v = binary.BigEndian.AppendUint64(v, uint64(at.UnixNano()))
	}
	v = binary.BigEndian.AppendUint16(v, 3)
	v = append(v, "abcalice"...)
	s, err := decodeSession([]byte("id"), v)
	if err != nil {
		t.Fatal(err)
	}
	if s.User != "alice" || string(s.CSRFHash) != "abc" || s.ClientAddr != "" || !s.Expires.Equal(now.Add(2*time.Hour)) {
		t.Errorf("decoded %+v", s)
	}

	s.ClientAddr = "192.0.2.7"
	back, err := decodeSession([]byte("id"), encodeSession(s))
	if err != nil || back.ClientAddr != "192.0.2.7" || back.User != "alice" || string(back.CSRFHash) != "abc" {
		t.Errorf("round trip = %+v, %v", back, err)
	}
	for _, bad := range [][]byte{encodeSession(s)[:1+3*8+2+3], append([]byte{9}, v[1:]...)} {
		if _, err := decodeSession([]byte("id"), bad); err == nil {
			t.Errorf("decoded a malformed record %x", bad)
		}
	}
}
