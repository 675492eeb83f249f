package rapyer_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/faultproxy"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// entry is one exported entry point that talks to Redis, called on model
// m (which holds model "a") with context ctx.
type entry struct {
	name    string
	indexed bool // the entry point needs a model with indexes
	call    func(ctx context.Context, m *rapyer.Model[Item]) error
}

var itemQty = lens.Of(func(i *Item) *int { return &i.Qty })

func first[V any](seq func(func(V, error) bool)) error {
	for _, err := range seq {
		return err
	}
	return nil
}

// entryPoints lists the entry points of packages rapyer, query, tx and
// lock that send to Redis.
func entryPoints() []entry {
	noop := func(context.Context, *Item) error { return nil }
	batch := func() tx.Batch { return tx.Of(ops.Incr(itemQty, 1)) }
	return []entry{
		{"Save", false, func(ctx context.Context, m *rapyer.Model[Item]) error { return m.Save(ctx, "b", Item{SKU: "b"}) }},
		{"Create", false, func(ctx context.Context, m *rapyer.Model[Item]) error { return m.Create(ctx, "b", Item{SKU: "b"}) }},
		{"Insert", false, func(ctx context.Context, m *rapyer.Model[Item]) error { _, err := m.Insert(ctx, Item{}); return err }},
		{"Get", false, func(ctx context.Context, m *rapyer.Model[Item]) error { _, err := m.Get(ctx, "a"); return err }},
		{"GetWithVersion", false, func(ctx context.Context, m *rapyer.Model[Item]) error {
			_, _, err := m.GetWithVersion(ctx, "a")
			return err
		}},
		{"GetMany", false, func(ctx context.Context, m *rapyer.Model[Item]) error {
			_, _, err := m.GetMany(ctx, []string{"a", "z"})
			return err
		}},
		{"Exists", false, func(ctx context.Context, m *rapyer.Model[Item]) error { _, err := m.Exists(ctx, "a"); return err }},
		{"Delete", false, func(ctx context.Context, m *rapyer.Model[Item]) error { _, err := m.Delete(ctx, "a"); return err }},
		{"Expire", false, func(ctx context.Context, m *rapyer.Model[Item]) error { return m.Expire(ctx, "a", time.Minute) }},
		{"TTL", false, func(ctx context.Context, m *rapyer.Model[Item]) error { _, err := m.TTL(ctx, "a"); return err }},
		{"Persist", false, func(ctx context.Context, m *rapyer.Model[Item]) error { return m.Persist(ctx, "a") }},
		{"IDs", false, func(ctx context.Context, m *rapyer.Model[Item]) error { return first(m.IDs(ctx)) }},
		{"SaveMany", false, func(ctx context.Context, m *rapyer.Model[Item]) error {
			return m.SaveMany(ctx, []rapyer.Entry[Item]{{ID: "b", Value: Item{SKU: "b"}}})
		}},
		{"InsertMany", false, func(ctx context.Context, m *rapyer.Model[Item]) error {
			_, err := m.InsertMany(ctx, Item{})
			return err
		}},
		{"DeleteMany", false, func(ctx context.Context, m *rapyer.Model[Item]) error { _, err := m.DeleteMany(ctx, "a"); return err }},
		{"Duplicate", false, func(ctx context.Context, m *rapyer.Model[Item]) error {
			_, err := m.Duplicate(ctx, "a", "c")
			return err
		}},
		{"Sweep", false, func(ctx context.Context, m *rapyer.Model[Item]) error { _, err := m.Sweep(ctx); return err }},
		{"Update", false, func(ctx context.Context, m *rapyer.Model[Item]) error {
			_, err := m.Update(ctx, "a", func(Item) (tx.Batch, error) { return batch(), nil })
			return err
		}},
		{"Exec", false, func(ctx context.Context, m *rapyer.Model[Item]) error {
			_, err := m.Exec(ctx, "a", batch())
			return err
		}},
		{"Lock", false, func(ctx context.Context, m *rapyer.Model[Item]) error {
			_, err := m.Lock(ctx, "a", "x", noop)
			return err
		}},
		{"LockAll", false, func(ctx context.Context, m *rapyer.Model[Item]) error {
			var v Item
			_, err := rapyer.LockAll(ctx, "x", []rapyer.Held{m.Hold("a", &v)}, func(context.Context) error { return nil })
			return err
		}},
		{"Reindex", true, func(ctx context.Context, m *rapyer.Model[Item]) error { return m.Reindex(ctx, nil) }},
		{"Count", true, func(ctx context.Context, m *rapyer.Model[Item]) error {
			_, err := m.Count(ctx, query.All[Item]().Scan())
			return err
		}},
		{"DeleteWhere", true, func(ctx context.Context, m *rapyer.Model[Item]) error {
			_, err := m.DeleteWhere(ctx, query.All[Item]().Scan())
			return err
		}},
		{"Find", true, func(ctx context.Context, m *rapyer.Model[Item]) error {
			return first(m.Find(ctx, query.All[Item]().Scan()))
		}},
		{"FindIDs", true, func(ctx context.Context, m *rapyer.Model[Item]) error {
			return first(m.FindIDs(ctx, query.All[Item]().Scan()))
		}},
		{"Page", true, func(ctx context.Context, m *rapyer.Model[Item]) error {
			_, err := m.Page(ctx, query.All[Item]().Scan().Limit(10), "")
			return err
		}},
		{"tx.Exec", false, func(ctx context.Context, m *rapyer.Model[Item]) error {
			_, err := tx.Exec(ctx, m.Client(), tx.On(m.Target("a"), ops.Incr(itemQty, 1)), tx.Options{})
			return err
		}},
		{"lock.Acquire", false, func(ctx context.Context, m *rapyer.Model[Item]) error {
			_, err := lock.Acquire(ctx, m.Client(), m.Prefix()+"lk", lock.Options{Wait: lock.NoWait})
			return err
		}},
	}
}

// snapshot is what the entry points could change: the ids, and model a
// with its TTL.
func snapshot(t *testing.T, m *rapyer.Model[Item]) ([]string, Item, time.Duration) {
	t.Helper()
	ctx := context.Background()
	var ids []string
	for id, err := range m.IDs(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	v, err := m.Get(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	ttl, err := m.TTL(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	return ids, v, ttl
}

// closedPort is an address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// checkNotSent calls every entry point through bad (a model sharing good's
// prefix; indexed says whether it has indexes) with ctx, and checks each error is ErrNotSent (and also is, when
// not nil, want) and that nothing was written, read through good.
func checkNotSent(t *testing.T, good, bad *rapyer.Model[Item], indexed bool, ctx func() context.Context, want error) {
	t.Helper()
	for _, e := range entryPoints() {
		if e.indexed && !indexed {
			continue
		}
		ids, v, ttl := snapshot(t, good)
		err := e.call(ctx(), bad)
		if !errors.Is(err, rapyer.ErrNotSent) || (want != nil && !errors.Is(err, want)) {
			t.Errorf("%s: %v, want ErrNotSent and %v", e.name, err, want)
		}
		ids2, v2, ttl2 := snapshot(t, good)
		if !slices.Equal(ids, ids2) || v != v2 || (ttl > 0) != (ttl2 > 0) {
			t.Errorf("%s wrote: ids %v -> %v, a %+v -> %+v, ttl %v -> %v", e.name, ids, ids2, v, v2, ttl, ttl2)
		}
	}
}

// seed makes the model of the test: model "a", with a TTL, and an index
// when indexed is set (its queries and Reindex need one; IDs reads by it).
func seed(t *testing.T, b *testenv.Backend, rdb redis.UniversalClient, indexed bool) (good, bad *rapyer.Model[Item]) {
	t.Helper()
	opts := rapyer.Options{Prefix: b.Prefix + "ns", TTL: time.Hour}
	if indexed {
		opts.Prefix, opts.Indexes = b.Prefix+"nsix", []index.Spec{index.On(itemQty)}
	}
	good = rapyer.MustNew[Item](b.Client, opts)
	if err := good.Save(context.Background(), "a", Item{SKU: "a", Qty: 1}); err != nil {
		t.Fatal(err)
	}
	return good, rapyer.MustNew[Item](rdb, opts)
}

// TestEveryEntryPointTypesAnEndedContext: a context cancelled, or past its
// deadline, before the call makes every entry point fail with ErrNotSent
// that also is the context's error, and write nothing; on every tier.
func TestEveryEntryPointTypesAnEndedContext(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		for _, indexed := range []bool{false, true} {
			good, bad := seed(t, b, b.Client, indexed)
			checkEnded(t, good, bad, indexed)
		}
	})
}

// checkEnded checks the entry points with a cancelled context, then with
// one past its deadline.
func checkEnded(t *testing.T, good, bad *rapyer.Model[Item], indexed bool) {
	t.Helper()
	{
		cancelled := func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}
		checkNotSent(t, good, bad, indexed, cancelled, context.Canceled)
		expired := func() context.Context {
			ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
			t.Cleanup(cancel)
			return ctx
		}
		checkNotSent(t, good, bad, indexed, expired, context.DeadlineExceeded)
	}
}

// TestEveryEntryPointTypesAClosedClient: every entry point called on a
// closed client fails with ErrNotSent and writes nothing; on every tier.
func TestEveryEntryPointTypesAClosedClient(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		for _, indexed := range []bool{false, true} {
			rdb := b.NewClient(t, nil)
			good, bad := seed(t, b, rdb, indexed)
			if err := rdb.Close(); err != nil {
				t.Fatal(err)
			}
			checkNotSent(t, good, bad, indexed, context.Background, redis.ErrClosed)
		}
	})
}

// TestEveryEntryPointTypesAnUnreachableServer: every entry point called on
// a client whose server does not listen fails with ErrNotSent and writes
// nothing; on every tier.
func TestEveryEntryPointTypesAnUnreachableServer(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		addr := closedPort(t)
		rdb := b.NewClient(t, func(o *redis.UniversalOptions) { o.Addrs, o.MaxRetries, o.DialerRetries = []string{addr}, -1, 1 })
		for _, indexed := range []bool{false, true} {
			good, bad := seed(t, b, rdb, indexed)
			checkNotSent(t, good, bad, indexed, context.Background, nil)
		}
	})
}

// reads are the entry points that only read.
var reads = []string{"Get", "GetWithVersion", "GetMany", "Exists", "TTL", "IDs", "Count", "Find", "FindIDs", "Page"}

// proxied is a client to b whose every connection goes through a fault
// proxy (one per server of a cluster), without go-redis's own retries.
func proxied(t *testing.T, b *testenv.Backend) (redis.UniversalClient, []*faultproxy.Proxy) {
	t.Helper()
	via := map[string]*faultproxy.Proxy{}
	var all []*faultproxy.Proxy
	for _, a := range b.Addrs {
		p := faultproxy.Start(t, a)
		via[a] = p
		all = append(all, p)
	}
	rdb := b.NewClient(t, func(o *redis.UniversalOptions) {
		o.MaxRetries, o.MaxRedirects = -1, -1 // a cluster client resends a read on its own otherwise
		o.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			if p, ok := via[addr]; ok {
				addr = p.Addr()
			}
			return d.DialContext(ctx, network, addr)
		}
	})
	return rdb, all
}

// TestAReadWhoseReplyIsLostIsNotSent: a read whose request reached the
// server but whose reply was lost (the connection cut after the server
// answered) fails with ErrNotSent, safe to send again, and writes nothing;
// on every tier, for every read.
func TestAReadWhoseReplyIsLostIsNotSent(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		for _, e := range entryPoints() {
			if !slices.Contains(reads, e.name) {
				continue
			}
			// Fresh proxies for each read: an arm that did not fire (on a
			// server the read did not ask) must not outlive it.
			rdb, proxies := proxied(t, b)
			good, bad := seed(t, b, rdb, true)
			if err := e.call(ctx, bad); err != nil { // warm: scripts loaded, connections open
				t.Fatalf("%s: %v", e.name, err)
			}
			ids, v, ttl := snapshot(t, good)
			for _, p := range proxies {
				p.DropReplyTo(good.Prefix())
			}
			err := e.call(ctx, bad)
			if !errors.Is(err, rapyer.ErrNotSent) {
				t.Errorf("%s with its reply lost: %v, want ErrNotSent", e.name, err)
			}
			if ids2, v2, ttl2 := snapshot(t, good); !slices.Equal(ids, ids2) || v != v2 || (ttl > 0) != (ttl2 > 0) {
				t.Errorf("%s wrote: ids %v -> %v, a %+v -> %+v", e.name, ids, ids2, v, v2)
			}
		}
	})
}
