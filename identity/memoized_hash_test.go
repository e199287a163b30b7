package identity

import "testing"

// TestMemoizedHash: a remembered value gets the same sum as the HMAC, only
// after Remember, and no longer after Forget.
func TestMemoizedHash(t *testing.T) {
	m := NewMemoizedHash([]byte("0123456789abcdef0123456789abcdef"))
	want := m.Sum("rat_key")
	steps := []struct {
		do             func()
		wantRemembered bool
	}{
		{func() {}, false},
		{func() { m.Remember("rat_key", &want) }, true},
		{func() { m.Forget("rat_other") }, true},
		{func() { m.Forget("rat_key") }, false},
	}
	for i, s := range steps {
		s.do()
		sum, remembered := m.Lookup("rat_key")
		if *sum != want || remembered != s.wantRemembered {
			t.Fatalf("step %d: Lookup = %x, %v; want %x, %v", i, *sum, remembered, want, s.wantRemembered)
		}
	}
	if _, remembered := m.Lookup("rat_other"); remembered {
		t.Fatal("a value never remembered was remembered")
	}
}
