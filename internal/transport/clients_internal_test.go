package transport

import (
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/shape"
)

// TestClientMarks: a client's marks (a shape's script loaded through it,
// its server refusing shapes) are its own, are seen by every reader at
// once while others are written (under -race), and are forgotten all at
// once past maxOff clients.
func TestClientMarks(t *testing.T) {
	s1, s2 := &shape.Shape{}, &shape.Shape{}
	a := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	b := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer a.Close()
	defer b.Close()
	markLoaded(a, s1)
	noShapes(a)
	if !loadedOn(a, s1) || loadedOn(a, s2) || loadedOn(b, s1) {
		t.Fatal("a shape's mark is not its client's own")
	}
	if shapesFor(a) || !shapesFor(b) {
		t.Fatal("a refusal is not its client's own")
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if !loadedOn(a, s1) || shapesFor(a) {
					t.Error("a mark was lost while others were written")
					return
				}
			}
		})
	}
	markLoaded(a, s2)
	markLoaded(b, s2)
	noShapes(b)
	close(stop)
	wg.Wait()
	if !loadedOn(a, s1) || !loadedOn(a, s2) || !loadedOn(b, s2) || loadedOn(b, s1) || shapesFor(b) {
		t.Fatal("marks written one after another were lost")
	}
	var many []*redis.Client
	defer func() {
		for _, c := range many {
			c.Close()
		}
	}()
	for range maxOff {
		c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
		many = append(many, c)
		markLoaded(c, s1)
		noShapes(c)
	}
	if loadedOn(a, s1) || !shapesFor(a) {
		t.Fatal("past maxOff clients, the first's marks were kept")
	}
	if last := many[len(many)-1]; !loadedOn(last, s1) || shapesFor(last) {
		t.Fatal("the last client's marks were lost")
	}
}

// BenchmarkClientMarks: what every compiled call asks of the marks (is
// the client refused, is the script loaded), by 2 goroutines a CPU:
//
//	go test -run '^$' -bench BenchmarkClientMarks ./internal/transport/
func BenchmarkClientMarks(b *testing.B) {
	s := &shape.Shape{}
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	markLoaded(c, s)
	b.SetParallelism(2)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !shapesFor(c) || !loadedOn(c, s) {
				b.Error("lost")
				return
			}
		}
	})
}
