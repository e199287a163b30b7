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
