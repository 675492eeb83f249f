package testenv_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var prefixRE = regexp.MustCompile(`^[a-z0-9_]{1,24}$`)

func TestEachRunsEveryBackend(t *testing.T) {
	prefixes := map[string]testenv.Kind{}
	var ran []testenv.Kind
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := t.Context()
		if want := "TestEachRunsEveryBackend/" + string(b.Kind); t.Name() != want {
			t.Errorf("subtest is named %q, want %q", t.Name(), want)
		}
		if !prefixRE.MatchString(b.Prefix) {
			t.Errorf("Prefix %q is not short [a-z0-9_]", b.Prefix)
		}
		if k, dup := prefixes[b.Prefix]; dup {
			t.Errorf("Prefix %q of %s was already used by %s", b.Prefix, b.Kind, k)
		}
		prefixes[b.Prefix] = b.Kind

		key := b.Prefix + "hello"
		if err := b.Client.Set(ctx, key, "world", 0).Err(); err != nil {
			t.Fatalf("SET: %v", err)
		}
		got, err := b.Client.Get(ctx, key).Result()
		if err != nil || got != "world" {
			t.Fatalf("GET = %q, %v; want \"world\"", got, err)
		}

		switch b.Kind {
		case testenv.Mini:
			if _, ok := b.Client.(*redis.Client); !ok {
				t.Errorf("Client is %T, want *redis.Client", b.Client)
			}
			if b.Mini == nil {
				t.Fatal("Mini is nil on the miniredis backend")
			}
			if v, err := b.Mini.Get(key); err != nil || v != "world" {
				t.Errorf("miniredis holds %q, %v", v, err)
			}
			if len(b.Addrs) != 1 || b.Addrs[0] != b.Mini.Addr() {
				t.Errorf("Addrs = %v, want [%s]", b.Addrs, b.Mini.Addr())
			}
		case testenv.Server:
			if _, ok := b.Client.(*redis.Client); !ok {
				t.Errorf("Client is %T, want *redis.Client", b.Client)
			}
			if b.Mini != nil || len(b.Addrs) != 1 {
				t.Errorf("Mini = %v, Addrs = %v; want nil and one address", b.Mini, b.Addrs)
			}
			if b.Addrs[0] == "127.0.0.1:6379" {
				t.Error("the harness uses the server on :6379; it must start its own")
			}
		case testenv.Cluster:
			if _, ok := b.Client.(*redis.ClusterClient); !ok {
				t.Errorf("Client is %T, want *redis.ClusterClient", b.Client)
			}
			if b.Mini != nil || len(b.Addrs) != 3 {
				t.Errorf("Mini = %v, Addrs = %v; want nil and three masters", b.Mini, b.Addrs)
			}
		}
		ran = append(ran, b.Kind)
	})
	if !slices.Contains(ran, testenv.Mini) {
		t.Fatalf("backends that ran: %v; miniredis must always run", ran)
	}
}

func TestOnGivesEachCallItsOwnPrefix(t *testing.T) {
	ctx := t.Context()
	a := testenv.On(t, testenv.Server)
	b := testenv.On(t, testenv.Server)
	if a.Prefix == b.Prefix {
		t.Fatalf("two backends share Prefix %q", a.Prefix)
	}
	if a.Addrs[0] != b.Addrs[0] {
		t.Fatalf("the real server is not shared: %v and %v", a.Addrs, b.Addrs)
	}
	if err := a.Client.Set(ctx, a.Prefix+"k", "a", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := b.Client.Get(ctx, b.Prefix+"k").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET under the other prefix = %v, want redis.Nil", err)
	}
}

func TestNewClientTweaksOptions(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		c := b.NewClient(t, func(o *redis.UniversalOptions) {
			o.PoolSize = 3
			o.MaxRetries = -1
		})
		if c == b.Client {
			t.Fatal("NewClient returned the backend's own client")
		}
		var pool, retries int
		switch c := c.(type) {
		case *redis.Client:
			pool, retries = c.Options().PoolSize, c.Options().MaxRetries
		case *redis.ClusterClient:
			pool, retries = c.Options().PoolSize, c.Options().MaxRetries
			if b.Kind != testenv.Cluster {
				t.Errorf("%s got a cluster client", b.Kind)
			}
		}
		if pool != 3 || retries > 0 { // -1 means none; go-redis may store it as 0
			t.Errorf("PoolSize, MaxRetries = %d, %d; want 3, no retries", pool, retries)
		}
		if err := c.Ping(t.Context()).Err(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestClusterKeepsAHashTagInOneSlot(t *testing.T) {
	ctx := t.Context()
	b := testenv.On(t, testenv.Cluster)
	cc := b.Client.(*redis.ClusterClient)

	keys := []string{b.Prefix + "{user:1}", b.Prefix + "{user:1}:name", b.Prefix + "x{user:1}:tags", "other{user:1}"}
	var slot int64 = -1
	for _, k := range keys {
		s, err := cc.ClusterKeySlot(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if slot == -1 {
			slot = s
		} else if s != slot {
			t.Fatalf("CLUSTER KEYSLOT %q = %d, want %d like %q", k, s, slot, keys[0])
		}
	}

	// One slot means one node: a transaction over all the keys works.
	_, err := cc.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys[:3] {
			p.Set(ctx, k, "v", 0)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("MULTI/EXEC over one hash tag: %v", err)
	}

	// And the cluster really has three masters that share the keys.
	masters := map[string]bool{}
	for i := range 64 {
		m, err := cc.MasterForKey(ctx, fmt.Sprintf("%s{t%d}", b.Prefix, i))
		if err != nil {
			t.Fatal(err)
		}
		masters[m.Options().Addr] = true
	}
	if len(masters) != 3 {
		t.Fatalf("64 hash tags landed on masters %v, want 3 masters", masters)
	}
}

func TestCountRoundTrips(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := t.Context()
		c := testenv.CountRoundTrips(b.Client)
		tag := b.Prefix + "{rt}"
		expect := func(what string, want int64, wantCmds ...string) {
			t.Helper()
			if c.Count() != want || !slices.Equal(c.Commands(), wantCmds) {
				t.Errorf("%s: %v; want %d round trips: %v", what, c, want, wantCmds)
			}
			c.Reset()
		}

		if err := b.Client.Set(ctx, tag+"a", "1", 0).Err(); err != nil {
			t.Fatal(err)
		}
		expect("a single command", 1, "set")

		_, err := b.Client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := range 10 {
				p.Incr(ctx, fmt.Sprintf("%s%d", tag, i))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		incrs := slices.Repeat([]string{"incr"}, 10)
		expect("a pipeline of 10", 1, incrs...)

		_, err = b.Client.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Incr(ctx, tag+"a")
			p.Get(ctx, tag+"a")
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		expect("a MULTI/EXEC transaction", 1, "multi", "incr", "get", "exec")

		if b.Kind != testenv.Cluster {
			return
		}
		// On a cluster a pipeline goes to every node that holds a key of it:
		// one round trip per node.
		cc := b.Client.(*redis.ClusterClient)
		var keys []string
		nodes := map[string]bool{}
		for i := 0; len(nodes) < 3; i++ {
			k := fmt.Sprintf("%s{n%d}", b.Prefix, i)
			m, err := cc.MasterForKey(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			if !nodes[m.Options().Addr] {
				nodes[m.Options().Addr] = true
				keys = append(keys, k)
			}
		}
		c.Reset()
		_, err = cc.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys {
				p.Incr(ctx, k)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		expect("a pipeline over three nodes", 3, "incr", "incr", "incr")
	})
}

func TestCountRoundTripsCountsARedirect(t *testing.T) {
	ctx := t.Context()
	b := testenv.On(t, testenv.Cluster)

	// A client that believes the first master owns every slot, so a key of
	// another master costs a MOVED and a second round trip.
	wrong := redis.NewClusterClient(&redis.ClusterOptions{
		ClusterSlots: func(context.Context) ([]redis.ClusterSlot, error) {
			return []redis.ClusterSlot{{Start: 0, End: 16383, Nodes: []redis.ClusterNode{{Addr: b.Addrs[0]}}}}, nil
		},
		MaxRetries: -1,
	})
	t.Cleanup(func() { _ = wrong.Close() })

	key := ""
	for i := 0; key == ""; i++ {
		k := fmt.Sprintf("%s{r%d}", b.Prefix, i)
		m, err := b.Client.(*redis.ClusterClient).MasterForKey(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if m.Options().Addr != b.Addrs[0] {
			key = k
		}
	}
	c := testenv.CountRoundTrips(wrong)
	if err := wrong.Get(ctx, key).Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET %s = %v, want redis.Nil", key, err)
	}
	if c.Count() != 2 || !slices.Equal(c.Commands(), []string{"get", "get"}) {
		t.Fatalf("a redirected GET: %v; want 2 round trips: get get", c)
	}
}

func TestServerKillAndRestart(t *testing.T) {
	ctx := t.Context()
	s := testenv.StartServer(t)
	if s.Addr() == "127.0.0.1:6379" {
		t.Fatal("StartServer took the port of the machine's own server")
	}
	c := s.Client(t)
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	pid := s.Pid()
	if pid == 0 {
		t.Fatal("Pid is 0 for a running server")
	}

	s.Kill(t)
	if s.Pid() != 0 {
		t.Errorf("Pid = %d after Kill, want 0", s.Pid())
	}
	if processAlive(pid) {
		t.Errorf("process %d is still alive after Kill", pid)
	}
	s.Kill(t) // killing a dead server is fine
	down := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = down.Close() })
	if err := down.Ping(ctx).Err(); err == nil {
		t.Fatal("PING to a killed server succeeded")
	}

	s.Restart(t)
	if s.Pid() == 0 || s.Pid() == pid {
		t.Errorf("Pid after Restart = %d (before: %d)", s.Pid(), pid)
	}
	fresh := s.Client(t)
	if err := fresh.Get(ctx, "k").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET after Restart = %v, want redis.Nil: data must be gone", err)
	}
	s.Restart(t) // restarting a running server kills it first
	if err := fresh.Set(ctx, "k", "again", 0).Err(); err != nil {
		t.Fatalf("SET after the second Restart: %v", err)
	}
}

func TestStartServerStopsWithTheTest(t *testing.T) {
	var pid int
	t.Run("private", func(t *testing.T) {
		s := testenv.StartServer(t, "--maxmemory", "10mb")
		pid = s.Pid()
		v, err := s.Client(t).ConfigGet(t.Context(), "maxmemory").Result()
		if err != nil || v["maxmemory"] != "10485760" {
			t.Fatalf("extra arguments not applied: CONFIG GET maxmemory = %v, %v", v, err)
		}
	})
	if pid == 0 {
		t.Fatal("the subtest did not start a server")
	}
	if processAlive(pid) {
		t.Fatalf("redis-server %d outlived its test", pid)
	}
}

func TestStartClusterWithReplicasAndFailover(t *testing.T) {
	ctx := t.Context()
	begin := time.Now()
	c := testenv.StartCluster(t, testenv.ClusterOptions{Replicas: 1, NodeTimeout: 500 * time.Millisecond})
	t.Logf("cluster with replicas started in %v", time.Since(begin).Round(time.Millisecond))

	nodes, masters := c.Nodes(), c.Addrs()
	if len(nodes) != 6 || len(masters) != 3 {
		t.Fatalf("%d nodes and masters %v, want 6 and 3", len(nodes), masters)
	}
	for i, m := range masters {
		if nodes[i].Addr() != m {
			t.Errorf("Nodes()[%d] = %s, want master %s first", i, nodes[i].Addr(), m)
		}
	}
	cc := c.Client(t)
	//lint:ignore SA1019 CLUSTER SLOTS is what go-redis routes by
	slots, err := cc.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range slots {
		if len(s.Nodes) != 2 {
			t.Errorf("slots %d-%d are served by %v, want a master and a replica", s.Start, s.End, s.Nodes)
		}
	}
	if err := cc.Set(ctx, "{f}k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	owner, err := cc.MasterForKey(ctx, "{f}k")
	if err != nil {
		t.Fatal(err)
	}

	// Kill the key's master: its replica takes over.
	var victim *testenv.ServerProc
	for _, n := range nodes {
		if n.Addr() == owner.Options().Addr {
			victim = n
		}
	}
	victim.Kill(t)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var got string
	for {
		got, err = cc.Get(ctx, "{f}k").Result()
		if err == nil || ctx.Err() != nil {
			break
		}
		cc.ReloadState(ctx) // see ClusterProc.Client
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err != nil || got != "v" {
		t.Fatalf("after killing master %s: GET = %q, %v; want the replica to serve \"v\"", victim.Addr(), got, err)
	}
	// The old master rejoins, as a replica, with the identity in its nodes.conf.
	victim.Restart(t)
	vc := victim.Client(t)
	for {
		role, err := vc.Do(ctx, "ROLE").Slice()
		if err == nil && len(role) > 0 && role[0] == "slave" {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("restarted node %s never became a replica: ROLE = %v, %v", victim.Addr(), role, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
