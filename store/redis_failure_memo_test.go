package store

import (
	"fmt"
	"strings"
	"testing"
)

// TestRedisFailureMemoSlotsSpread: the key strings of many password
// checks, allocated as the password checker allocates them (one string of
// about 120 bytes per user and address), spread over most of the memo's
// slots, not over the few that their addresses' low bits would pick.
func TestRedisFailureMemoSlotsSpread(t *testing.T) {
	used := make(map[int]bool)
	keep := make([][3]string, 0, redisFailureMemoSlots)
	for i := range redisFailureMemoSlots {
		name := fmt.Sprintf("%064x", i)
		all := strings.Clone("fail:user-addr:" + name + ":192.0.2.1" + "fail:user:" + name + "fail:addr:192.0.2.1")
		userAt := len("fail:user-addr:") + len(name) + len(":192.0.2.1")
		addrAt := userAt + len("fail:user:") + len(name)
		keys := [3]string{all[:userAt], all[userAt:addrAt], all[addrAt:]}
		keep = append(keep, keys)
		used[redisFailureMemoSlot(keys)] = true
	}
	// 256 keys thrown at random into 256 slots land in about 162.
	if len(used) < redisFailureMemoSlots/2 {
		t.Errorf("%d checks' keys use %d of %d memo slots, want at least half", len(keep), len(used), redisFailureMemoSlots)
	}
}
