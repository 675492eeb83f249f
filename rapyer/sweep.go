package rapyer

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/reply"
)

// Sweep deletes the collection keys that fields removed from T left behind,
// and returns them. Save, Delete and every batch know only the fields T
// has today: when a slice, map or set field is removed from the struct (or
// renamed, or its redis tag changed), the keys it wrote
// (<prefix>:{<id>}:<old name>) stay, and would come back to life under a
// field that takes the old name again. Run Sweep once after such a change,
// when no process runs the old struct any more (a process still writing
// the old field would write its key again).
//
// It scans the model's prefix with SCAN (never KEYS) on every master of a
// cluster, and deletes, one pipelined round trip per page, every key of
// the form <root>:<name> whose name is not a collection of T, a lock
// (<root>:lock:<action>) or any other key rapyer-go writes. Keys of models
// that no longer exist are swept too. Its work grows with the keys under
// the prefix, not with the stale ones: a maintenance call, not one for the
// request path.
func (m *Model[T]) Sweep(ctx context.Context) ([]string, error) {
	if err := m.readyGroups(ctx, "Model.Sweep"); err != nil {
		return nil, err
	}
	pattern := m.layout.Pattern() + ":*"
	var nodes []func(cursor uint64) *redis.ScanCmd
	if c, ok := m.rdb.(*redis.ClusterClient); ok {
		var mu sync.Mutex
		err := c.ForEachMaster(ctx, func(_ context.Context, n *redis.Client) error {
			mu.Lock()
			defer mu.Unlock()
			nodes = append(nodes, func(cursor uint64) *redis.ScanCmd { return n.Scan(ctx, cursor, pattern, 256) })
			return nil
		})
		if err != nil {
			return nil, reply.NotSent(err)
		}
	} else {
		nodes = append(nodes, func(cursor uint64) *redis.ScanCmd { return m.rdb.Scan(ctx, cursor, pattern, 256) })
	}
	var removed []string
	for _, scan := range nodes {
		var cursor uint64
		for {
			page, next, err := scan(cursor).Result()
			if err != nil {
				return removed, reply.Read(err)
			}
			var stale []string
			for _, k := range page {
				if m.stale(k) {
					stale = append(stale, k)
				}
			}
			if len(stale) > 0 {
				cmds := make([]*redis.IntCmd, len(stale))
				_, _ = m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
					for i, k := range stale {
						cmds[i] = p.Del(ctx, k)
					}
					return nil
				}) // each command reports its own error
				for i, c := range cmds {
					if err := c.Err(); err != nil {
						return removed, delErr(stale[i], err)
					}
					if c.Val() > 0 {
						removed = append(removed, stale[i])
					}
				}
			}
			if next == 0 {
				break
			}
			cursor = next
		}
	}
	return removed, nil
}

// stale reports whether key is <root>:<name> of a model of m, where name is
// no collection of T and no lock.
func (m *Model[T]) stale(key string) bool {
	rest, ok := strings.CutPrefix(key, m.opts.Prefix+":{")
	if !ok {
		return false
	}
	skip := len(m.opts.Prefix) + 2
	if m.layout.Tag != nil {
		i := strings.Index(rest, "}:{")
		if i < 0 {
			return false
		}
		skip += i + 3
		rest = rest[i+3:]
	}
	i := strings.Index(rest, "}:")
	if i < 0 {
		return false
	}
	root, name := key[:skip+i+1], rest[i+2:]
	if _, ok := m.layout.ID(root); !ok || name == "" || strings.HasPrefix(name, "lock:") {
		return false
	}
	for _, n := range m.schema.Collections {
		if n.Name == name {
			return false
		}
	}
	return true
}

// delErr types the error of a DEL of key: not sent (ErrNotSent); its reply
// lost (ErrUnknownOutcome: the key may or may not be gone, and a DEL
// again is safe); a refusal of the server (ErrNoPermission, ErrRefused).
func delErr(key string, err error) error {
	switch {
	case reply.FromServer(err):
		return errs.At(key, reply.Refused(err))
	case reply.Unsent(err) || !reply.Lost(err):
		return reply.NotSent(err)
	}
	return fmt.Errorf("%w: the reply to DEL %s was lost: %w", errs.UnknownOutcome, key, err)
}
