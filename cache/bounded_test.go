package cache

import (
	"sync"
	"testing"
)

func TestBounded(t *testing.T) {
	c := New[int, string](10)
	for i := 0; i < 100; i++ {
		c.Put(i, "v")
		if c.Len() > 10 {
			t.Fatalf("len %d exceeds the bound", c.Len())
		}
	}
	if v, ok := c.Get(99); !ok || v != "v" {
		t.Fatal("the newest entry is missing")
	}
	c.Delete(99)
	if _, ok := c.Get(99); ok {
		t.Fatal("deleted entry still there")
	}
}

func TestBoundedConcurrent(t *testing.T) {
	c := New[int, int](50)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				c.Put(g*1000+i, i)
				c.Get(i)
			}
		}(g)
	}
	wg.Wait()
	if c.Len() > 50 {
		t.Fatalf("len %d exceeds the bound", c.Len())
	}
}

// TestBoundedKeepsUsedEntries: an entry read since the last generation
// switch survives the next one; one not read is dropped.
func TestBoundedKeepsUsedEntries(t *testing.T) {
	c := New[int, int](10) // generations of 5
	for i := range 5 {
		c.Put(i, i)
	}
	c.Put(100, 100) // switch: 0..4 are the previous generation
	if _, ok := c.Get(0); !ok {
		t.Fatal("entry 0 dropped at the first switch")
	}
	for i := 101; i < 105; i++ { // fills the current generation (0 was moved in)
		c.Put(i, i)
	}
	c.Put(200, 200) // second switch drops what was not used
	if _, ok := c.Get(0); !ok {
		t.Error("an entry in use was dropped")
	}
	if _, ok := c.Get(1); ok {
		t.Error("an unused entry survived two switches")
	}
	if c.Len() > 10 {
		t.Errorf("len %d exceeds the bound", c.Len())
	}
}

// TestBoundedDeleteWins: a Delete is never undone by a Get that found the
// entry in the previous generation just before.
func TestBoundedDeleteWins(t *testing.T) {
	for round := range 200 {
		c := New[int, int](4)
		c.Put(1, 1)
		c.Put(2, 2)
		c.Put(3, 3) // 1 and 2 are in the previous generation
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); c.Get(1) }()
		go func() { defer wg.Done(); c.Delete(1) }()
		wg.Wait()
		if _, ok := c.Get(1); ok {
			t.Fatalf("round %d: deleted entry found", round)
		}
	}
}
