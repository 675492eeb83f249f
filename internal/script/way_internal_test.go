package script

import (
	"fmt"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// clients makes n go-redis clients that are never dialled (their address
// is not listened on): the way of a client is remembered by the client's
// identity alone.
func clients(t testing.TB, n int) []redis.UniversalClient {
	out := make([]redis.UniversalClient, n)
	for i := range out {
		c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
		t.Cleanup(func() { _ = c.Close() })
		out[i] = c
	}
	return out
}

// TestWaysRememberForgetAndBound: a client's way is what was last
// remembered of it, Forget drops it, and past maxClients the memory starts
// again, so a client seen before reads as unknown.
func TestWaysRememberForgetAndBound(t *testing.T) {
	cs := clients(t, maxClients+1)
	for _, c := range cs[:maxClients] {
		Forget(c)
	}
	remember(cs[0], scripts)
	remember(cs[1], functions)
	remember(cs[1], evalThenFunctions)
	if w := wayOf(cs[0]); w != scripts {
		t.Fatalf("way %d, want scripts", w)
	}
	if w := wayOf(cs[1]); w != evalThenFunctions {
		t.Fatalf("way %d, want the last remembered", w)
	}
	Forget(cs[1])
	if w := wayOf(cs[1]); w != unknown {
		t.Fatalf("way %d after Forget, want unknown", w)
	}
	if w := wayOf(nil); w != unknown {
		t.Fatalf("way of nil %d", w)
	}
	remember(nil, scripts) // no panic, nothing kept
	for _, c := range cs {
		remember(c, functions)
	}
	// the 257th client came when the memory was full: it is the only one
	if w, last := wayOf(cs[0]), wayOf(cs[maxClients]); w != unknown || last != functions {
		t.Fatalf("past %d clients: the first %d, the last %d; want unknown and functions", maxClients, w, last)
	}
}

// TestWaysConcurrently: readers see only ways that were remembered of
// their client while writers remember, forget and overflow the memory
// (for -race: the reads take no lock).
func TestWaysConcurrently(t *testing.T) {
	cs := clients(t, 8)
	extra := clients(t, maxClients)
	var wg sync.WaitGroup
	for i, c := range cs {
		own := way(1 + i%3) // functions, scripts or loaded
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range 200 {
				remember(c, own)
				Forget(c)
			}
		}()
		go func() {
			defer wg.Done()
			for range 2000 {
				if w := wayOf(c); w != unknown && w != own {
					panic(fmt.Sprintf("client %d: way %d, only %d was remembered", i, w, own))
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, c := range extra {
			remember(c, scripts)
		}
	}()
	wg.Wait()
}

// BenchmarkWayOf is the look-up every script call makes (Run, RunTx,
// Queue, Recover), of a client whose way is known, among a few clients.
func BenchmarkWayOf(b *testing.B) {
	cs := clients(b, 4)
	for _, c := range cs {
		remember(c, functions)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if wayOf(cs[i&3]) != functions {
			b.Fatal("forgotten")
		}
	}
}

// BenchmarkWayOfParallel is BenchmarkWayOf from every P at once, as the
// calls of many goroutines sharing clients make it.
func BenchmarkWayOfParallel(b *testing.B) {
	cs := clients(b, 4)
	for _, c := range cs {
		remember(c, functions)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if wayOf(cs[i&3]) != functions {
				panic("forgotten")
			}
			i++
		}
	})
}
