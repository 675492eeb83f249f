package rapyer_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
)

// tripsByNode counts the pipelines of query calls each node receives while
// armed, and holds each of them until every expected node has one in
// flight: a client that sent to the masters one after the other would wait
// for a node that never comes, and the test fails when the wait ends.
type tripsByNode struct {
	mu      sync.Mutex
	armed   bool
	want    int             // nodes that must be in flight together
	trips   map[string]int  // node address -> round trips
	arrived chan struct{}   // one send per pipeline entering a node
	release chan struct{}   // closed once want pipelines are in flight
	late    map[string]bool // nodes whose pipeline gave up waiting
	hooked  map[string]bool // nodes already hooked
	addrOf  map[*redis.Client]string
}

func newTripsByNode(want int) *tripsByNode {
	return &tripsByNode{want: want, trips: map[string]int{}, late: map[string]bool{}, hooked: map[string]bool{},
		addrOf: map[*redis.Client]string{}}
}

// arm starts counting (from zero) and a new barrier.
func (h *tripsByNode) arm() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.armed, h.trips, h.late = true, map[string]int{}, map[string]bool{}
	h.arrived, h.release = make(chan struct{}, 64), make(chan struct{})
	go func(arrived, release chan struct{}, want int) {
		for range want {
			<-arrived
		}
		close(release)
	}(h.arrived, h.release, h.want)
}

func (h *tripsByNode) disarm() (map[string]int, map[string]bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.armed = false
	// let the barrier's goroutine end
	for range h.want {
		select {
		case h.arrived <- struct{}{}:
		default:
		}
	}
	return h.trips, h.late
}

// node is the hook of one node client.
type nodeTrips struct {
	h    *tripsByNode
	addr string
}

func (n nodeTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (n nodeTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		n.count([]redis.Cmder{cmd})
		return next(ctx, cmd)
	}
}

func (n nodeTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		n.count(cmds)
		return next(ctx, cmds)
	}
}

// count records a round trip that carries a query call, then waits at the
// barrier (at most ten seconds: a failure, not a pace).
func (n nodeTrips) count(cmds []redis.Cmder) {
	if !slices.ContainsFunc(cmds, func(c redis.Cmder) bool {
		return c.Name() == "fcall" || c.Name() == "evalsha" || c.Name() == "eval"
	}) {
		return
	}
	h := n.h
	h.mu.Lock()
	if !h.armed {
		h.mu.Unlock()
		return
	}
	h.trips[n.addr]++
	arrived, release := h.arrived, h.release
	h.mu.Unlock()
	arrived <- struct{}{}
	select {
	case <-release:
	case <-time.After(10 * time.Second):
		h.mu.Lock()
		h.late[n.addr] = true
		h.mu.Unlock()
	}
}

func (h *tripsByNode) hook(c *redis.Client) {
	addr := c.Options().Addr
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.hooked[addr] {
		h.hooked[addr] = true
		c.AddHook(nodeTrips{h: h, addr: addr})
	}
}

// TestAQueryOnTheClusterTakesOneRoundTripPerMasterInParallel: a page of a
// query and a whole Find (its results fit in one page) send each master
// exactly one round trip, and the masters' round trips are in flight at the
// same time (each is held until all are); on one server, one round trip.
func TestAQueryOnTheClusterTakesOneRoundTripPerMasterInParallel(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		c := b.NewClient(t, nil)
		h := newTripsByNode(len(b.Addrs))
		switch cc := c.(type) {
		case *redis.ClusterClient:
			cc.OnNewNode(h.hook)
			if err := cc.ForEachShard(ctx, func(_ context.Context, n *redis.Client) error {
				h.hook(n)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		case *redis.Client:
			h.hook(cc)
		}
		m, err := rapyer.New[QItem](c, rapyer.Options{Prefix: b.Prefix + "ptrips", Indexes: itemIndexes})
		if err != nil {
			t.Fatal(err)
		}
		saveItems(t, m, 64, func(i int) QItem { return QItem{Status: []string{"new", "sold"}[i%2], Price: i} })
		q := query.Where(is.Equal(iStatus, "new")).OrderBy(iPrice).Limit(10)
		// the library is loaded and the topology known before counting
		if _, err := m.Page(ctx, q, ""); err != nil {
			t.Fatal(err)
		}
		for _, run := range []struct {
			name string
			f    func() (int, error)
		}{
			{"Page", func() (int, error) {
				p, err := m.Page(ctx, q, "")
				return len(p.Items), err
			}},
			{"Find", func() (int, error) {
				n := 0
				for _, err := range m.Find(ctx, query.Where(is.Equal(iStatus, "new"))) {
					if err != nil {
						return n, err
					}
					n++
				}
				return n, nil
			}},
		} {
			h.arm()
			n, err := run.f()
			trips, late := h.disarm()
			if err != nil || (run.name == "Page" && n != 10) || (run.name == "Find" && n != 32) {
				t.Fatalf("%s: %d results, %v", run.name, n, err)
			}
			if len(trips) != len(b.Addrs) {
				t.Errorf("%s: round trips by node %v, want one on each of %v", run.name, trips, b.Addrs)
			}
			for addr, k := range trips {
				if k != 1 {
					t.Errorf("%s: %d round trips to %s, want 1 (%v)", run.name, k, addr, trips)
				}
			}
			if len(late) > 0 {
				t.Errorf("%s: the round trips to %v waited in vain for the other masters': not sent in parallel", run.name, late)
			}
		}
	})
}
