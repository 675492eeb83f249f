package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
)

// User is an ACL user made by [ACLUser] or [Backend.NewUser].
type User struct {
	// Name and Password log in as the user.
	Name, Password string
	// Rules are the ACL rules the user was given, after "reset on >password".
	Rules []string
	// Client is a client logged in as the user; it is closed when the
	// test ends.
	Client redis.UniversalClient
}

var userSeq atomic.Uint64

// NewUser makes an ACL user with rules on the backend (see [ACLUser]) and
// returns a client logged in as it. On [Mini] it skips the test: miniredis
// has no ACL rules.
//
//	app := b.NewUser(t, "~"+p+":*", "&"+p+":*", "+fcall", "+hgetall")
func (b *Backend) NewUser(t testing.TB, rules ...string) redis.UniversalClient {
	t.Helper()
	if b.Kind == Mini {
		t.Skip("testenv: miniredis has no ACL rules; ACL tests run on the real server and cluster")
	}
	return ACLUser(t, b.Client, rules...).Client
}

// ACLUser makes an ACL user on every server admin reaches (every master and
// every replica of a cluster client, as the client knows them) with
//
//	ACL SETUSER <name> reset on ><password> <rules...>
//
// so that the user may do exactly what rules say: "reset" takes every
// permission away first, keys, channels and commands included. Rules are
// ACL SETUSER words: "~pattern" (keys), "&pattern" (channels), "+cmd",
// "-cmd", "+@category", "+cmd|sub". The name is unique in the test binary
// and the password random. The user is deleted from every server when t
// ends (which closes its connections), after its client is closed.
//
// The client has admin's address (seed addresses for a cluster), TLS,
// dialer and protocol, and go-redis defaults otherwise: a *redis.Client
// for a *redis.Client, a *redis.ClusterClient for a *redis.ClusterClient.
// For other options, build a client of your own with the user's Name and
// Password, for instance with [Backend.NewClient] and a tweak. Remember that go-redis itself sends commands
// on a new connection (HELLO, CLIENT SETINFO, errors of which it ignores)
// and, for a cluster client, CLUSTER SLOTS to learn the topology: a
// cluster user needs "+cluster|slots".
func ACLUser(t testing.TB, admin redis.UniversalClient, rules ...string) *User {
	t.Helper()
	ctx := context.Background()
	var pw [12]byte
	_, _ = rand.Read(pw[:])
	u := &User{
		Name:     "rapyer_t" + prefixTag + "_" + strconv.FormatUint(userSeq.Add(1), 10),
		Password: hex.EncodeToString(pw[:]),
		Rules:    append([]string(nil), rules...),
	}
	nodes, err := serversOf(ctx, admin)
	if err != nil {
		t.Fatalf("testenv: ACLUser: finding the servers: %v", err)
	}
	args := []any{"ACL", "SETUSER", u.Name, "reset", "on", ">" + u.Password}
	for _, r := range rules {
		args = append(args, r)
	}
	t.Cleanup(func() {
		forEachServer(context.Background(), nodes, func(ctx context.Context, c *redis.Client) error {
			return c.Do(ctx, "ACL", "DELUSER", u.Name).Err()
		})
	})
	if err := forEachServer(ctx, nodes, func(ctx context.Context, c *redis.Client) error {
		return c.Do(ctx, args...).Err()
	}); err != nil {
		t.Fatalf("testenv: ACL SETUSER %s %s: %v", u.Name, strings.Join(rules, " "), err)
	}
	switch a := admin.(type) {
	case *redis.ClusterClient:
		o := a.Options()
		u.Client = redis.NewClusterClient(&redis.ClusterOptions{Addrs: o.Addrs, Username: u.Name, Password: u.Password,
			TLSConfig: o.TLSConfig, Dialer: o.Dialer, Protocol: o.Protocol})
	case *redis.Client:
		o := a.Options()
		u.Client = redis.NewClient(&redis.Options{Addr: o.Addr, DB: o.DB, Username: u.Name, Password: u.Password,
			TLSConfig: o.TLSConfig, Dialer: o.Dialer, Protocol: o.Protocol})
	default:
		t.Fatalf("testenv: ACLUser needs a *redis.Client or a *redis.ClusterClient, not %T", admin)
	}
	t.Cleanup(func() { _ = u.Client.Close() })
	return u
}

// server is how to reach one server as the admin.
type server struct {
	opts redis.Options
}

// serversOf lists the servers admin reaches: its own for a plain client;
// every master and replica for a cluster client.
func serversOf(ctx context.Context, admin redis.UniversalClient) ([]server, error) {
	switch a := admin.(type) {
	case *redis.ClusterClient:
		var mu sync.Mutex
		var out []server
		err := a.ForEachShard(ctx, func(_ context.Context, n *redis.Client) error {
			mu.Lock()
			defer mu.Unlock()
			out = append(out, server{opts: plain(n.Options())})
			return nil
		})
		return out, err
	case *redis.Client:
		return []server{{opts: plain(a.Options())}}, nil
	}
	return nil, nil
}

// plain keeps what dials and logs in: address, credentials, TLS.
func plain(o *redis.Options) redis.Options {
	return redis.Options{
		Addr: o.Addr, Username: o.Username, Password: o.Password,
		CredentialsProvider: o.CredentialsProvider, TLSConfig: o.TLSConfig,
		Dialer: o.Dialer, Protocol: o.Protocol, MaxRetries: -1, PoolSize: 1,
	}
}

// forEachServer runs f on a connection of its own to every server, in turn,
// and returns the first error.
func forEachServer(ctx context.Context, nodes []server, f func(context.Context, *redis.Client) error) error {
	var first error
	for _, n := range nodes {
		o := n.opts
		c := redis.NewClient(&o)
		if err := f(ctx, c); err != nil && first == nil {
			first = err
		}
		_ = c.Close()
	}
	return first
}
