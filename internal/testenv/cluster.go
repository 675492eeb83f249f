package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// slotCount is the number of hash slots of a Redis Cluster.
const slotCount = 16384

// ClusterOptions configures [StartCluster]. The zero value is three masters
// without replicas and a node timeout of two seconds.
type ClusterOptions struct {
	// Replicas is the number of replicas per master, 0 or 1.
	Replicas int
	// NodeTimeout is the cluster-node-timeout: how long a node may be
	// unreachable before the others fail it over. 0 means 2s. Failover tests
	// may shorten it (it cannot be below 100ms).
	NodeTimeout time.Duration
}

// ClusterProc is a Redis Cluster of three masters, and their replicas if asked
// for, running as redis-server processes of the harness.
type ClusterProc struct {
	masters []string
	nodes   []*ServerProc
}

// StartCluster builds a private cluster for t: three masters (and one replica
// each if opts.Replicas is 1) on free ports of 127.0.0.1, joined with
// redis-cli --cluster create. It returns once every node reports
// cluster_state:ok and all nodes agree on a slot map that covers the 16384
// slots (with the replicas in it). The processes are killed when t ends.
//
// Use it for tests that kill nodes or fail them over; other tests share the
// cluster of [On].
func StartCluster(t testing.TB, opts ClusterOptions) *ClusterProc {
	t.Helper()
	requireBinaries(t, Cluster)
	dir := t.TempDir()
	c, err := buildCluster(dir, opts)
	if c != nil {
		t.Cleanup(func() {
			for _, n := range c.nodes {
				_ = n.stop()
			}
		})
	}
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	notePrivate()
	return c
}

// Addrs returns the "host:port" of the three masters, as they were when the
// cluster was built: after a failover a listed node may be a replica.
func (c *ClusterProc) Addrs() []string { return slices.Clone(c.masters) }

// Nodes returns every process of the cluster, masters first (in the order of
// [ClusterProc.Addrs]), then replicas.
func (c *ClusterProc) Nodes() []*ServerProc { return slices.Clone(c.nodes) }

// Client returns a new *redis.ClusterClient seeded with the masters, with
// go-redis default options, closed when t ends.
//
// After killing a master, call ReloadState on the client while waiting for
// the failover: go-redis v9 reloads the topology on a MOVED reply or every
// ClusterStateReloadInterval (60s by default), not when a node stops
// answering, so on its own it keeps dialing the dead master.
func (c *ClusterProc) Client(t testing.TB) *redis.ClusterClient {
	t.Helper()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// buildCluster starts the nodes in subdirectories of dir and joins them. On
// error the returned cluster, if not nil, holds the nodes that were started.
func buildCluster(dir string, opts ClusterOptions) (*ClusterProc, error) {
	if opts.Replicas < 0 || opts.Replicas > 1 {
		return nil, fmt.Errorf("ClusterOptions.Replicas is %d, want 0 or 1", opts.Replicas)
	}
	timeout := opts.NodeTimeout
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	if timeout < 100*time.Millisecond {
		return nil, fmt.Errorf("ClusterOptions.NodeTimeout is %v, want at least 100ms", timeout)
	}
	const masters = 3
	n := masters * (1 + opts.Replicas)
	c := &ClusterProc{}
	for i := range n {
		nodeDir := filepath.Join(dir, "node"+strconv.Itoa(i))
		if err := os.MkdirAll(nodeDir, 0o755); err != nil {
			return c, err
		}
		s, err := launch(nodeDir, []string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", strconv.FormatInt(timeout.Milliseconds(), 10),
		})
		if err != nil {
			return c, fmt.Errorf("cluster node %d: %w", i, err)
		}
		c.nodes = append(c.nodes, s)
	}

	args := []string{"--cluster", "create"}
	for _, s := range c.nodes {
		args = append(args, s.Addr())
	}
	args = append(args, "--cluster-replicas", strconv.Itoa(opts.Replicas), "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	out, err := exec.CommandContext(ctx, redisCLIPath(), args...).CombinedOutput()
	if err != nil {
		return c, fmt.Errorf("redis-cli %s: %w\n%s", strings.Join(args, " "), err, out)
	}

	slots, err := waitClusterReady(c.nodes, opts.Replicas)
	if err != nil {
		return c, fmt.Errorf("cluster %v did not settle: %w\nredis-cli said:\n%s", addrsOf(c.nodes), err, out)
	}
	c.order(slots)
	if len(c.masters) != masters {
		return c, fmt.Errorf("cluster has masters %v, want %d", c.masters, masters)
	}
	return c, nil
}

// order sets c's masters from slots, the slot ranges of the settled
// cluster, and puts c's nodes in order: masters first, in slot order; then
// the others.
func (c *ClusterProc) order(slots []slotRange) {
	var ordered []*ServerProc
	for _, r := range slots {
		if !slices.Contains(c.masters, r.master) {
			c.masters = append(c.masters, r.master)
		}
	}
	for _, m := range c.masters {
		for _, s := range c.nodes {
			if s.Addr() == m {
				ordered = append(ordered, s)
			}
		}
	}
	for _, s := range c.nodes {
		if !slices.Contains(c.masters, s.Addr()) {
			ordered = append(ordered, s)
		}
	}
	c.nodes = ordered
}

func addrsOf(nodes []*ServerProc) []string {
	var a []string
	for _, s := range nodes {
		a = append(a, s.Addr())
	}
	return a
}

// slotRange is one line of a normalized CLUSTER SLOTS answer.
type slotRange struct {
	start, end int
	master     string
	replicas   string // sorted, comma-separated
}

// waitClusterReady polls every node until all report cluster_state:ok and the
// same slot map, covering every slot, with replicas per master in it.
func waitClusterReady(nodes []*ServerProc, replicas int) ([]slotRange, error) {
	clients := make([]*redis.Client, len(nodes))
	for i, s := range nodes {
		clients[i] = redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1, Protocol: 2})
	}
	defer func() {
		for _, c := range clients {
			_ = c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		slots, err := clusterAgrees(ctx, clients, replicas)
		if err == nil {
			return slots, nil
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-tick.C:
		}
	}
}

// clusterAgrees checks the cluster once; nil error means ready.
func clusterAgrees(ctx context.Context, clients []*redis.Client, replicas int) ([]slotRange, error) {
	var first []slotRange
	for i, c := range clients {
		info, err := c.ClusterInfo(ctx).Result()
		if err != nil {
			return nil, fmt.Errorf("%s: CLUSTER INFO: %w", c.Options().Addr, err)
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return nil, fmt.Errorf("%s: cluster_state is not ok", c.Options().Addr)
		}
		// CLUSTER SLOTS, deprecated for CLUSTER SHARDS, is what go-redis
		// itself loads the topology from, so it is the map that must agree.
		//lint:ignore SA1019 see above
		raw, err := c.ClusterSlots(ctx).Result()
		if err != nil {
			return nil, fmt.Errorf("%s: CLUSTER SLOTS: %w", c.Options().Addr, err)
		}
		slots, err := normalizeSlots(raw, replicas)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.Options().Addr, err)
		}
		if i == 0 {
			first = slots
		} else if !slices.Equal(first, slots) {
			return nil, fmt.Errorf("%s sees slots %v, %s sees %v", clients[0].Options().Addr, first, c.Options().Addr, slots)
		}
	}
	return first, nil
}

// normalizeSlots sorts a CLUSTER SLOTS answer and checks that it covers every
// slot exactly once, with the wanted number of replicas per range.
func normalizeSlots(raw []redis.ClusterSlot, replicas int) ([]slotRange, error) {
	var out []slotRange
	for _, s := range raw {
		if len(s.Nodes) == 0 {
			return nil, fmt.Errorf("slots %d-%d have no node", s.Start, s.End)
		}
		var reps []string
		for _, n := range s.Nodes[1:] {
			reps = append(reps, n.Addr)
		}
		if len(reps) != replicas {
			return nil, fmt.Errorf("slots %d-%d have replicas %v, want %d", s.Start, s.End, reps, replicas)
		}
		slices.Sort(reps)
		out = append(out, slotRange{start: s.Start, end: s.End, master: s.Nodes[0].Addr, replicas: strings.Join(reps, ",")})
	}
	slices.SortFunc(out, func(a, b slotRange) int { return a.start - b.start })
	next := 0
	for _, r := range out {
		if r.start != next {
			return nil, fmt.Errorf("slot %d is not covered (next range starts at %d)", next, r.start)
		}
		next = r.end + 1
	}
	if next != slotCount {
		return nil, errors.New("slot map does not reach slot 16383")
	}
	return out, nil
}
