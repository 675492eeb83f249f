package rapyer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/errs"
	ix "github.com/rapyer-go/rapyer/internal/index"
	"github.com/rapyer-go/rapyer/internal/reply"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/tx"
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
//
// It also clears the leftovers of models whose root hash is gone (evicted,
// expired before its collection keys, deleted by hand): a collection key
// of T with no root, and, for an indexed type, an id in a slot group's
// @back with no root (Options.HashTag's groups excepted: their tags are
// not known). Each such model is cleared as Delete clears it, collection
// keys and index entries in one atomic step that checks again that the
// root is missing, so a model created meanwhile is left alone; the
// returned list holds its root key (which was not there).
//
// Before its first write it asks the server's ACL (Redis 7) for what it
// may send, and sends an empty batch in MULTI/EXEC (two round trips): a
// user denied one gets ErrNoPermission and nothing is cleared.
func (m *Model[T]) Sweep(ctx context.Context) (swept []string, err error) {
	// a refusal of SCAN or of a read of a page (an ACL's NOPERM) came
	// back bare, untyped
	defer func() {
		if err != nil && !errs.Typed(err) && reply.FromServer(err) {
			err = reply.Refused(err)
		}
	}()
	if err := m.readyGroups(ctx, "Model.Sweep"); err != nil {
		return nil, err
	}
	// what it may send asked before its first write: a user denied one
	// clears nothing
	if err := m.mayClear(ctx, "Sweep", "sweep"); err != nil {
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
			if removed, err = m.sweepPage(ctx, page, removed); err != nil {
				return removed, err
			}
			if next == 0 {
				break
			}
			cursor = next
		}
	}
	return m.sweepBacks(ctx, removed)
}

// sweepPage sweeps one SCAN page: it deletes the stale keys of the page,
// one pipelined round trip, and clears the models whose collection keys
// it holds and whose root is gone (sweepOrphans).
func (m *Model[T]) sweepPage(ctx context.Context, page, removed []string) ([]string, error) {
	var stale, roots []string
	for _, k := range page {
		switch root, name, ok := m.split(k); {
		case !ok:
		case m.collection(name):
			roots = append(roots, root)
		case !strings.HasPrefix(name, "lock:"):
			stale = append(stale, k)
		}
	}
	removed, err := m.sweepOrphans(ctx, roots, removed)
	if err != nil || len(stale) == 0 {
		return removed, err
	}
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
	return removed, nil
}

// split parses key as <root>:<name> of a model of m; ok is false for any
// other key (a root, a group's index key, another prefix's key).
func (m *Model[T]) split(key string) (root, name string, ok bool) {
	rest, ok := strings.CutPrefix(key, m.opts.Prefix+":{")
	if !ok {
		return "", "", false
	}
	skip := len(m.opts.Prefix) + 2
	if m.layout.Tag != nil {
		i := strings.Index(rest, "}:{")
		if i < 0 {
			return "", "", false
		}
		skip += i + 3
		rest = rest[i+3:]
	}
	i := strings.Index(rest, "}:")
	if i < 0 {
		return "", "", false
	}
	root, name = key[:skip+i+1], rest[i+2:]
	if _, ok := m.layout.ID(root); !ok || name == "" {
		return "", "", false
	}
	return root, name, true
}

// collection reports whether name is the name of a collection field of T.
func (m *Model[T]) collection(name string) bool {
	for _, n := range m.schema.Collections {
		if n.Name == name {
			return true
		}
	}
	return false
}

// sweepBacks clears the models listed in the @back of a slot group of m
// whose root is gone (sweepOrphans), one HSCAN page at a time.
func (m *Model[T]) sweepBacks(ctx context.Context, removed []string) ([]string, error) {
	if m.ix == nil {
		return removed, nil
	}
	for _, base := range m.ix.Bases() {
		var cursor uint64
		for {
			page, next, err := m.rdb.HScan(ctx, ix.Back(base), cursor, "*", 256).Result()
			if err != nil {
				return removed, reply.Read(err)
			}
			roots := make([]string, 0, len(page)/2)
			for i := 0; i+1 < len(page); i += 2 {
				if root, err := m.Key(page[i]); err == nil {
					roots = append(roots, root)
				}
			}
			if removed, err = m.sweepOrphans(ctx, roots, removed); err != nil {
				return removed, err
			}
			if next == 0 {
				break
			}
			cursor = next
		}
	}
	return removed, nil
}

// sweepOrphans clears each model of roots whose root is gone: one EXISTS
// each, pipelined, then for each one missing a Delete that must find it
// missing (tx.MustBeNew: a model created since the EXISTS fails it with
// ErrExists and is left alone), which deletes its collection keys and its
// index entries in one step.
func (m *Model[T]) sweepOrphans(ctx context.Context, roots []string, removed []string) ([]string, error) {
	slices.Sort(roots)
	roots = slices.Compact(roots)
	if len(roots) == 0 {
		return removed, nil
	}
	found := make([]*redis.IntCmd, len(roots))
	_, err := m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, r := range roots {
			found[i] = p.Exists(ctx, r)
		}
		return nil
	})
	if err != nil {
		return removed, reply.Read(err)
	}
	o := m.opts.Exec
	o.IfMissing = tx.MustBeNew
	for i, root := range roots {
		id, _ := m.layout.ID(root)
		if found[i].Val() > 0 {
			continue
		}
		_, err := tx.Exec(ctx, m.rdb, tx.On(m.targetAt(id, root), ops.Delete[T]()), o)
		switch {
		case errors.Is(err, errs.Exists):
		case err != nil:
			return removed, err
		default:
			removed = append(removed, root)
		}
	}
	return removed, nil
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
