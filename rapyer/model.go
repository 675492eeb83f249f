package rapyer

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/codec"
	"github.com/rapyer-go/rapyer/internal/errs"
	ix "github.com/rapyer-go/rapyer/internal/index"
	"github.com/rapyer-go/rapyer/internal/keys"
	"github.com/rapyer-go/rapyer/internal/lua"
	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/internal/random"
	"github.com/rapyer-go/rapyer/internal/reply"
	"github.com/rapyer-go/rapyer/internal/schema"
	"github.com/rapyer-go/rapyer/internal/script"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/tx"
)

// NoTTL is what TTL returns for a model that does not expire.
const NoTTL time.Duration = -1

// Options configure a Model. The zero value works. The calls that change
// models (Exec, Update, UpdateMany, Lock, LockAll) also take per-call Option
// values (With*, SkipIfMissing, or any func(*Call)), which edit a Call that
// starts as the model's Exec and Lock options: they merge with the model's,
// never replace them. Only Exec and Lock can change per call (they are what
// a Call holds); Prefix, TTL, RefreshTTL, HashTag, NewID, Indexes and
// Groups belong to the model. A field is zero for its default; New refuses
// a value no call could use with ErrInvalid naming the field, and a call
// whose options end with such a value (a negative WithLockTTL, a
// WithRecord below a millisecond) is refused the same way, before anything
// is sent.
type Options struct {
	// Prefix starts every key of the model; default: the type's name in
	// snake case, then its type arguments, if any ("Account" -> "account",
	// "Box[int]" -> "box_int", "Box[time.Duration]" -> "box_time_duration").
	// Two models of different types may not share a prefix on one client.
	Prefix string
	// TTL, when set, is the lifetime Save, Create and Insert give a model (and
	// every one of its keys), in the same atomic step as the write. Without
	// it Save removes any TTL the model had (it replaces the whole model).
	TTL time.Duration
	// RefreshTTL, with TTL, gives the model its full TTL again whenever it
	// is used (Rapyer's refresh_ttl), in the same step as the use: Get,
	// GetWithVersion and GetMany send PEXPIRE on every key of the model in
	// the MULTI of the read (on a cluster, GetMany sends it in the same
	// pipeline, right after the read), and Exec, Update and UpdateMany add
	// ops.Expire(TTL) to their batch, unless the batch holds an ops.Expire
	// or ops.Persist of its own, which then wins. Reads of a missing model
	// create nothing. Exists, TTL, IDs and Lock do not refresh.
	RefreshTTL bool
	// HashTag, when set, maps an id to a hash tag its keys share with every
	// other model of the same tag, so that batches and locks over several of
	// them work on Redis Cluster. Keys then read <prefix>:{<tag>}:{<id>}.
	HashTag func(id string) string
	// NewID makes the ids of Insert; default: 24 random hex digits.
	NewID func() string
	// Exec are the defaults of every batch the model runs (what a missing
	// model does, batch records, resends, optimistic retries, budgets,
	// strict slots); the zero value works (see tx.Options). New refuses
	// what tx.Exec would (an IfMissing out of its range, a Record below a
	// millisecond or past some 194 years, a negative Retry field) with
	// ErrInvalid naming the field.
	Exec tx.Options
	// Lock are the defaults of the model's locks (TTL, wait, backoff,
	// auto-extend); the zero value works (see lock.Options). New refuses
	// what lock.Acquire would (a negative TTL, RetryMin or RetryMax, a
	// RetryMin longer than RetryMax) with ErrInvalid naming the field. Load and NoFence are the
	// model's own: its locks load the model with Load (a Load set here, or
	// by an Option, is refused with ErrInvalid) and fence its save by the
	// lock's token, taking no fencing number (NoFence is ignored).
	Lock lock.Options
	// Indexes are the type's indexes (package index): queries find models
	// by them, and every write changes them in its own atomic step. A type
	// with an index is grouped: its keys carry the hash tag of one of
	// Groups slot groups (docs/storage.md), so indexing a type that has
	// data moves its keys: Model.Reindex moves them, online.
	Indexes []index.Spec
	// Groups is the number of slot groups of a type with indexes (0: 16);
	// 1 for a type with a Unique index. With HashTag, the tags are the
	// groups. It cannot change once the type has data: a Model whose
	// Groups is not the count the models were stored with (adding a Unique
	// index to a type of 16 groups makes 1) fails every call with
	// ErrInvalid (docs/queries.md).
	Groups int
}

// Model binds a struct type T to a key prefix and a Redis client. It is safe
// for concurrent use; make one per type and keep it. Only New and MustNew
// make one: every method of a nil or zero Model returns an error wrapping
// ErrInvalid and sends nothing.
type Model[T any] struct {
	rdb    redis.UniversalClient
	schema *schema.Model
	layout keys.Layout
	opts   Options
	ix     *ix.Set // nil for a type without indexes
	mv     *mover  // the move from the layout without indexes (move.go)
	root   *codec.Root
	// flat: a copy of a T by assignment shares nothing that can be changed
	// in place (lock.go: Lock's copy of the model before fn)
	flat bool
}

// New returns the Model of T on rdb. It fails with ErrUnsupported (naming
// the field) when T has a field that cannot be stored, and with ErrInvalid
// for a nil client, a bad prefix, or a prefix that a model of another type
// already uses on rdb (the two would read and overwrite each other's keys;
// the same type may have any number of models on one prefix, and the same
// prefix is free on another client). rdb may be a *redis.Client, a
// *redis.ClusterClient, a failover client, or any redis.UniversalClient.
func New[T any](rdb redis.UniversalClient, opts Options) (*Model[T], error) {
	if errs.NilClient(rdb) {
		return nil, fmt.Errorf("%w: New: nil redis client", errs.Invalid)
	}
	sm, err := schema.For[T]()
	if err != nil {
		return nil, err
	}
	if opts.Prefix == "" {
		opts.Prefix = defaultPrefix(reflect.TypeFor[T]())
	}
	if err := keys.CheckPrefix(opts.Prefix); err != nil {
		return nil, err
	}
	if opts.TTL < 0 || (opts.TTL > 0 && opts.TTL < time.Millisecond) {
		return nil, fmt.Errorf("%w: Options.TTL: %s; give a TTL of at least a millisecond, or none", errs.Invalid, opts.TTL)
	}
	if opts.RefreshTTL && opts.TTL == 0 {
		return nil, fmt.Errorf("%w: Options.RefreshTTL: no TTL to refresh", errs.Invalid)
	}
	if err := (Call{Exec: opts.Exec, Lock: opts.Lock}).check("Options"); err != nil {
		return nil, err
	}
	set, err := resolveIndexes(sm, &opts)
	if err != nil {
		return nil, err
	}
	if err := claimPrefix(rdb, opts.Prefix, reflect.TypeFor[T]()); err != nil {
		return nil, err
	}
	if opts.NewID == nil {
		opts.NewID = func() string { return random.Hex(12) }
	}
	m := &Model[T]{rdb: rdb, schema: sm, layout: keys.Layout{Prefix: opts.Prefix, Tag: opts.HashTag}, opts: opts, ix: set, root: codec.RootOf(sm), flat: copiesByValue(reflect.TypeFor[T]())}
	if set != nil {
		m.layout.Tag = set.TagFunc()
	}
	m.mv = newMover(set, opts.Prefix)
	return m, nil
}

// MustNew is New for package-level variables: it panics on error.
func MustNew[T any](rdb redis.UniversalClient, opts Options) *Model[T] {
	m, err := New[T](rdb, opts)
	if err != nil {
		panic(err)
	}
	return m
}

// Client is the Redis client of the model (nil for a nil or zero Model).
func (m *Model[T]) Client() redis.UniversalClient {
	if m == nil {
		return nil
	}
	return m.rdb
}

// Prefix is the key prefix of the model ("" for a nil or zero Model).
func (m *Model[T]) Prefix() string {
	if m == nil {
		return ""
	}
	return m.opts.Prefix
}

// ready is nil when a method called as call can run: ctx is not nil and m
// is usable. Every method that takes a ctx asks it first, so that a nil
// context fails with ErrInvalid before anything is sent, instead of a panic
// inside go-redis.
func (m *Model[T]) ready(ctx context.Context, call string) error {
	if err := errs.NilContext(ctx, call); err != nil {
		return err
	}
	return m.usable()
}

// readyGroups is ready, then groupsOK.
func (m *Model[T]) readyGroups(ctx context.Context, call string) error {
	if err := m.ready(ctx, call); err != nil {
		return err
	}
	return m.groupsOK(ctx)
}

// usable is nil for a Model made by New, else the ErrInvalid every method
// of a nil or zero Model returns, instead of a nil dereference.
func (m *Model[T]) usable() error {
	switch {
	case m == nil:
		return fmt.Errorf("%w: a nil *rapyer.Model: make one with rapyer.New", errs.Invalid)
	case m.schema == nil:
		return fmt.Errorf("%w: a zero rapyer.Model: make one with rapyer.New", errs.Invalid)
	}
	return nil
}

// Key is the key of the root hash of model id, or an error wrapping
// ErrInvalidID (ErrInvalid for a nil or zero Model).
func (m *Model[T]) Key(id string) (string, error) {
	if err := m.usable(); err != nil {
		return "", err
	}
	if err := keys.CheckID(id); err != nil {
		return "", err
	}
	if m.layout.Tag != nil {
		tag := m.layout.Tag(id)
		if tag == "" || strings.ContainsAny(tag, "{}") {
			return "", fmt.Errorf("%w: the hash tag %q of id %q is empty or holds a brace", errs.InvalidID, tag, id)
		}
	}
	return m.layout.Root(id), nil
}

// Keys lists every key model id can have: the root hash, then one key per
// collection field.
func (m *Model[T]) Keys(id string) ([]string, error) {
	root, err := m.Key(id)
	if err != nil {
		return nil, err
	}
	out := []string{root}
	for _, n := range m.schema.Collections {
		out = append(out, keys.Field(root, n.Name))
	}
	return out, nil
}

// Target is model id as the target of ops, for batches over several models:
//
//	tx.Join(tx.On(accounts.Target("a"), ops.Decr(Balance, 5)), tx.On(accounts.Target("b"), ops.Incr(Balance, 5)))
//
// A bad id gives a Target whose use fails with ErrInvalidID.
func (m *Model[T]) Target(id string) tx.Target {
	root, err := m.Key(id)
	if err != nil {
		return tx.Invalid(err)
	}
	return m.targetAt(id, root)
}

// targetAt is Target of id, whose root key the caller has made already.
func (m *Model[T]) targetAt(id, root string) tx.Target {
	t := tx.At[T](root).WithTTL(m.opts.TTL)
	if m.ix != nil {
		t = ix.WithIndex(t, m.ix.Of(id)).(tx.Target)
	}
	return t
}

// Save writes v as model id, replacing whatever was stored there, collections
// included, in one atomic step. The lifetime is replaced too: with
// Options.TTL every key of the model gets that TTL; without it a TTL set
// earlier (Model.Expire, ops.Expire) is removed, and the model lives until
// deleted. Use Exec with field ops to change a model and keep its TTL. The
// version goes on counting from where it was.
func (m *Model[T]) Save(ctx context.Context, id string, v T) error {
	t, err := m.wholeTarget(ctx, "Model.Save", id)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, m.rdb, m.replaceOn(t, v), m.opts.Exec)
	return err
}

// Create writes v as model id, which must not exist yet: otherwise it fails
// with ErrExists and writes nothing.
func (m *Model[T]) Create(ctx context.Context, id string, v T) error {
	t, err := m.wholeTarget(ctx, "Model.Create", id)
	if err != nil {
		return err
	}
	return m.create(ctx, t, v)
}

// wholeTarget is the target of a write of the whole model id by the method
// named op (Save, Create), after the checks both make before sending
// anything: a usable model and context, a valid id, the index groups in
// place, and an unfinished index move of id completed first.
func (m *Model[T]) wholeTarget(ctx context.Context, op, id string) (tx.Target, error) {
	if err := m.ready(ctx, op); err != nil {
		return tx.Target{}, err
	}
	t := m.Target(id)
	if !t.Valid() {
		return t, t.Err()
	}
	if err := m.groupsOK(ctx); err != nil {
		return t, err
	}
	return t, m.moveFirst(ctx, id)
}

// Insert writes v under a new id made by Options.NewID, and returns the id.
func (m *Model[T]) Insert(ctx context.Context, v T) (string, error) {
	if err := m.ready(ctx, "Model.Insert"); err != nil {
		return "", err
	}
	id := m.opts.NewID()
	t := m.Target(id)
	if !t.Valid() {
		return "", t.Err()
	}
	if err := m.create(ctx, t, v); err != nil {
		return "", err
	}
	return id, nil
}

func (m *Model[T]) create(ctx context.Context, t tx.Target, v T) error {
	if err := m.groupsOK(ctx); err != nil {
		return err
	}
	o := m.opts.Exec
	o.IfMissing = tx.MustBeNew
	_, err := tx.Exec(ctx, m.rdb, m.replaceOn(t, v), o)
	return err
}

func (m *Model[T]) replace(v T) tx.Batch { return tx.Of(m.replaceOps(v)...) }

// replaceOn is tx.On(t, m.replaceOps(v)...) without the slice of ops on
// the heap (a Save's allocation fewer).
func (m *Model[T]) replaceOn(t tx.Target, v T) tx.Batch {
	if m.opts.TTL > 0 {
		return tx.On(t, ops.Replace(v), ops.Expire[T](m.opts.TTL))
	}
	return tx.On(t, ops.Replace(v))
}

// versionField is the hidden field of the root hash that holds the version.
const versionField = schema.Reserved + "v"

// Get reads model id in one round trip, as one consistent snapshot (a
// MULTI/EXEC of the root hash and every collection): it never sees half of a
// batch. A missing model gives ErrNotFound; stored data that does not decode
// gives ErrCorrupt or ErrWrongType, naming the field.
//
// Lists, maps and sets that are empty come back nil: Redis keeps no empty
// collections, so an empty one and a nil one are stored alike.
func (m *Model[T]) Get(ctx context.Context, id string) (T, error) {
	var zero T
	if err := m.ready(ctx, "Model.Get"); err != nil {
		return zero, err
	}
	root, err := m.Key(id)
	if err != nil {
		return zero, err
	}
	if err := m.groupsOK(ctx); err != nil {
		return zero, err
	}
	v, _, err := m.getMoved(ctx, id, root)
	return v, err
}

// GetWithVersion reads model id and its version in one round trip, as one
// consistent snapshot, like Get: the version is the one the value was read
// at. Give it to ops.VersionIs to make a later batch fail with
// ErrPrecondition if anybody wrote the model since this read:
//
//	a, v, err := accounts.GetWithVersion(ctx, "alice")
//	// ... decide from a ...
//	_, err = accounts.Exec(ctx, "alice", tx.Of(ops.VersionIs[Account](v), ops.Set(Balance, a.Balance-10)))
//
// A version is a number that changes with every write of the model; compare
// it only for equality. A version field that is not a number gives
// ErrCorrupt.
func (m *Model[T]) GetWithVersion(ctx context.Context, id string) (T, int64, error) {
	var zero T
	if err := m.ready(ctx, "Model.GetWithVersion"); err != nil {
		return zero, 0, err
	}
	root, err := m.Key(id)
	if err != nil {
		return zero, 0, err
	}
	if err := m.groupsOK(ctx); err != nil {
		return zero, 0, err
	}
	v, raw, err := m.getMoved(ctx, id, root)
	if err != nil {
		return zero, 0, err
	}
	// a count in canonical text, as batches take it: "+5", "007" or "-3"
	// would be read as a version no VersionIs guard matches
	ver, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || ver < 0 || strconv.FormatInt(ver, 10) != raw {
		return zero, 0, fmt.Errorf("%w: %s: the version field holds %q, not a count", errs.Corrupt, root, raw)
	}
	return v, ver, nil
}

// get reads the model at root in one MULTI/EXEC: its value and the text of
// its version field. A model that is one hash (no collections, no TTL to
// refresh) is read by one HGETALL, atomic on its own: the MULTI and EXEC
// around it would cost the server and the client more than the read.
func (m *Model[T]) get(ctx context.Context, root string) (T, string, error) {
	var zero T
	if len(m.schema.Collections) == 0 && !m.opts.RefreshTTL {
		return m.getHash(ctx, root)
	}
	var read func() (T, string, bool, error)
	cmds, err := m.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		read = m.queueVersionedRead(p, root)
		m.queueRefresh(p, root)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		cause := queuedCause(cmds, err)
		if !outOfMemory(cause) {
			return zero, "", readErr(root, cause)
		}
		// Redis refuses every command queued in MULTI while out of
		// memory; the read function writes nothing and runs.
		reads := make([]func() (T, string, bool, error), 1)
		if err := m.readAcrossSlots(ctx, []string{root}, reads); err != nil {
			return zero, "", err
		}
		read = reads[0]
	}
	v, ver, ok, err := read()
	if err != nil {
		return zero, "", err
	}
	if !ok {
		return zero, "", fmt.Errorf("%w: %s", errs.NotFound, root)
	}
	return v, ver, nil
}

// getHash is get of a model that is one hash: one HGETALL, its reply read
// in place (decodeRaw). An error reply goes through go-redis's own HGETALL
// again, which follows a cluster's redirections, retries what it retries
// and types the error: the raw reply does none of that.
func (m *Model[T]) getHash(ctx context.Context, root string) (T, string, error) {
	var zero T
	cmd := redis.NewRawCmd(ctx, "hgetall", root)
	_ = m.rdb.Process(ctx, cmd)
	raw, err := cmd.Result()
	if err != nil {
		return zero, "", readErr(root, err)
	}
	v, ver, ok, err := m.decodeRaw(root, raw, nil)
	switch {
	case err != nil && reply.NotRead(err):
		return m.getHashMap(ctx, root)
	case err != nil:
		return zero, "", err
	case !ok:
		return zero, "", fmt.Errorf("%w: %s", errs.NotFound, root)
	}
	return v, ver, nil
}

// getHashMap is getHash through go-redis's HGETALL and a map.
func (m *Model[T]) getHashMap(ctx context.Context, root string) (T, string, error) {
	var zero T
	fields, err := m.rdb.HGetAll(ctx, root).Result()
	if err != nil {
		return zero, "", readErr(root, err)
	}
	v, ver, ok, err := m.decode(root, codec.Data{Root: fields})
	if err != nil {
		return zero, "", err
	}
	if !ok {
		return zero, "", fmt.Errorf("%w: %s", errs.NotFound, root)
	}
	return v, ver, nil
}

// decodeRaw is decode of the root hash as raw, the RESP bytes of its
// HGETALL, read in place: the model's text fields are substrings of raw
// (which the value then keeps), its numbers are parsed from them. An error
// reply gives a reply.ServerError, bytes that are no hash reply.ErrNotHash.
func (m *Model[T]) decodeRaw(root string, raw []byte, cols map[string]any) (T, string, bool, error) {
	var v T
	ver, ok, err := m.decodeRawInto(&v, root, raw, cols)
	return v, ver, ok, err
}

// decodeRawInto is decodeRaw into *dst, which it zeroes first: the value
// then needs no room of its own (a Lock decodes into its holdOf).
func (m *Model[T]) decodeRawInto(dst *T, root string, raw []byte, cols map[string]any) (string, bool, error) {
	var zero T
	*dst = zero
	h, err := reply.ReadHash(raw)
	if err != nil {
		return "", false, err
	}
	if !m.root.Fits() {
		d := codec.Data{Root: make(map[string]string, h.Len()), Collections: cols}
		for name, value, ok, err := h.Next(); ok || err != nil; name, value, ok, err = h.Next() {
			if err != nil {
				return "", false, err
			}
			d.Root[name] = value
		}
		v, ver, ok, err := m.decode(root, d)
		*dst = v
		return ver, ok, err
	}
	var f codec.Fields
	m.root.Start(&f)
	for name, value, ok, err := h.Next(); ok || err != nil; name, value, ok, err = h.Next() {
		if err != nil {
			return "", false, err
		}
		f.Put(name, value)
	}
	ver, ok := f.Version()
	if !ok {
		return "", false, nil
	}
	if err := f.Decode(cols, unsafe.Pointer(dst)); err != nil {
		return "", false, errs.At(root, err)
	}
	return ver, true, nil
}

// Entry is one model GetMany found: its id and its value.
type Entry[T any] struct {
	// ID is the model's id.
	ID string
	// Value is the model as stored.
	Value T
}

// GetMany reads several models in one round trip (one consistent snapshot
// per model). found holds the models that exist, each with its id, in the
// order of ids; missing the ids that do not exist, in order. On Redis
// Cluster the models may live in any slots: the client sends one
// transaction per node, in parallel. An id given twice is refused with
// ErrInvalid before anything is sent, as SaveMany, DeleteMany, UpdateMany
// and LockAll refuse it (found would hold the model twice).
func (m *Model[T]) GetMany(ctx context.Context, ids []string) (found []Entry[T], missing []string, err error) {
	if err := m.ready(ctx, "Model.GetMany"); err != nil {
		return nil, nil, err
	}
	if err := m.groupsOK(ctx); err != nil {
		return nil, nil, err
	}
	found, missing, err = m.getMany(ctx, ids)
	if again, merr := m.moveAnyAgain(ctx, missing, err == nil && len(missing) > 0); merr != nil {
		return nil, nil, merr
	} else if again {
		return m.getMany(ctx, ids)
	}
	return found, missing, err
}

// getMany is GetMany without the move of missing models (move.go).
func (m *Model[T]) getMany(ctx context.Context, ids []string) (found []Entry[T], missing []string, err error) {
	roots := make([]string, len(ids))
	for i, id := range ids {
		if roots[i], err = m.Key(id); err != nil {
			return nil, nil, err
		}
	}
	if len(ids) == 0 {
		return nil, nil, nil
	}
	if err := givenTwice("GetMany", ids); err != nil {
		return nil, nil, err
	}
	reads := make([]func() (T, string, bool, error), len(ids))
	queue := func(p redis.Pipeliner) error {
		for i, root := range roots {
			reads[i] = m.queueVersionedRead(p, root)
			m.queueRefresh(p, root)
		}
		return nil
	}
	if _, cluster := m.rdb.(*redis.ClusterClient); cluster {
		if err := m.readAcrossSlots(ctx, roots, reads); err != nil {
			return nil, nil, err
		}
	} else {
		// each read reports its own error, but for a transaction the server
		// discarded (EXECABORT), whose every read says that alone
		cmds, err := m.rdb.TxPipelined(ctx, queue)
		switch {
		case redis.HasErrorPrefix(err, "EXECABORT") && outOfMemory(queuedCause(cmds, err)):
			// as get: the read function runs where MULTI is refused
			if err := m.readAcrossSlots(ctx, roots, reads); err != nil {
				return nil, nil, err
			}
		case redis.HasErrorPrefix(err, "EXECABORT"):
			return nil, nil, abortedRead(cmds, err)
		}
	}
	for i, read := range reads {
		v, _, ok, err := read()
		if err != nil {
			return nil, nil, err
		}
		if ok {
			found = append(found, Entry[T]{ID: ids[i], Value: v})
		} else {
			missing = append(missing, ids[i])
		}
	}
	return found, missing, nil
}

// readAcrossSlots queues the reads of the models at roots on a cluster,
// where one transaction cannot span slots: each model is read by the read
// function of the library (atomic for that model), and the client sends one
// pipeline to each master, in parallel. A reply saying that the library,
// the script or FCALL was missing means that the read did not run: Recover
// does what makes the next try succeed (loads the library, turns to
// scripts, or sends the text), and the pipeline goes again. Other calls of
// the client may turn its way in between, and the library may go missing
// again: the third try sends the text (EVAL), which cannot miss. Each read
// reports its own error.
func (m *Model[T]) readAcrossSlots(ctx context.Context, roots []string, reads []func() (T, string, bool, error)) error {
	cmds := make([]*redis.Cmd, len(roots))
	for try := 1; ; try++ {
		queue := lua.Read.Queuer(ctx, m.rdb)
		if try == 3 {
			queue = lua.Read.EvalQueuer(ctx)
		}
		_, _ = m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, root := range roots {
				reads[i], cmds[i] = m.queueScriptRead(p, root, queue)
				m.queueRefresh(p, root)
			}
			return nil
		})
		missed := firstMissing(cmds)
		if missed == nil || try == 3 {
			return nil
		}
		again, lerr := lua.Read.Recover(ctx, m.rdb, missed)
		if lerr != nil {
			return lerr
		}
		if !again {
			return nil
		}
	}
}

// firstMissing is the first error of cmds that says a call did not run for
// want of the library, the script or FCALL, or nil.
func firstMissing(cmds []*redis.Cmd) error {
	for _, c := range cmds {
		if err := c.Err(); script.Missing(err) {
			return err
		}
	}
	return nil
}

// queueScriptRead queues the read of one model by the read function with
// queue, and returns the function that decodes it, and the call.
func (m *Model[T]) queueScriptRead(p redis.Pipeliner, root string, queue func(redis.Pipeliner, []any) *redis.Cmd) (func() (T, string, bool, error), *redis.Cmd) {
	ks := []string{root}
	types := make([]any, len(m.schema.Collections))
	for i, n := range m.schema.Collections {
		ks = append(ks, keys.Field(root, n.Name))
		types[i] = n.Kind.RedisType()
	}
	cmd := queue(p, script.Command(ks, types...))
	return func() (T, string, bool, error) {
		var v T
		raw, err := cmd.Slice()
		if err != nil {
			return v, "", false, readErr(root, err)
		}
		if len(raw) != len(ks) {
			return v, "", false, fmt.Errorf("%w: %s: the read script gave %d parts", errs.Corrupt, root, len(raw))
		}
		d := codec.Data{Root: pairs(raw[0]), Collections: make(map[string]any, len(ks)-1)}
		for i, n := range m.schema.Collections {
			if n.Kind == schema.Map {
				d.Collections[n.Name] = pairs(raw[i+1])
			} else {
				d.Collections[n.Name] = strs(raw[i+1])
			}
		}
		return m.decode(root, d)
	}, cmd
}

func pairs(x any) map[string]string {
	a, _ := x.([]any)
	out := make(map[string]string, len(a)/2)
	for i := 0; i+1 < len(a); i += 2 {
		k, _ := a[i].(string)
		v, _ := a[i+1].(string)
		out[k] = v
	}
	return out
}

func strs(x any) []string {
	a, _ := x.([]any)
	out := make([]string, len(a))
	for i, e := range a {
		out[i], _ = e.(string)
	}
	return out
}

// decode turns read data into a value and the text of its version; a root
// without a version is a missing model.
func (m *Model[T]) decode(root string, d codec.Data) (T, string, bool, error) {
	var v T
	ver, ok := d.Root[schema.Reserved+"v"]
	if !ok {
		return v, "", false, nil
	}
	if err := codec.Decode(m.schema, d, unsafe.Pointer(&v)); err != nil {
		return v, "", false, errs.At(root, err)
	}
	return v, ver, true, nil
}

// queueRead queues the reads of one model on p and returns the function that
// decodes them once p has run: the value, whether the model exists, and an
// error for data that does not decode.
func (m *Model[T]) queueRead(p redis.Pipeliner, root string) func() (T, bool, error) {
	read := m.queueVersionedRead(p, root)
	return func() (T, bool, error) {
		v, _, ok, err := read()
		return v, ok, err
	}
}

// queueVersionedRead is queueRead that also gives the text of the model's
// version field.
func (m *Model[T]) queueVersionedRead(p redis.Pipeliner, root string) func() (T, string, bool, error) {
	rootCmd := redis.NewRawCmd(context.Background(), "hgetall", root)
	_ = p.Process(context.Background(), rootCmd)
	cols := m.queueCollections(p, root)
	return func() (T, string, bool, error) {
		var v T
		ver, ok, err := m.readInto(&v, root, rootCmd, cols)
		return v, ver, ok, err
	}
}

// queueCollections queues the reads of the collections of the model at
// root on p, after its root hash's, and returns them (none: nil).
func (m *Model[T]) queueCollections(p redis.Pipeliner, root string) []redis.Cmder {
	if len(m.schema.Collections) == 0 {
		return nil
	}
	cols := make([]redis.Cmder, len(m.schema.Collections))
	for i, n := range m.schema.Collections {
		k := keys.Field(root, n.Name)
		switch n.Kind {
		case schema.List:
			cols[i] = p.LRange(context.Background(), k, 0, -1)
		case schema.Map:
			cols[i] = p.HGetAll(context.Background(), k)
		case schema.Set:
			cols[i] = p.SMembers(context.Background(), k)
		}
	}
	return cols
}

// readInto decodes into *dst the model at root that rootCmd (its root
// hash, raw) and cols (queueCollections) read, once their pipeline has run,
// and returns the text of its version; ok is false for a missing model.
func (m *Model[T]) readInto(dst *T, root string, rootCmd *redis.RawCmd, cols []redis.Cmder) (ver string, ok bool, err error) {
	rootRaw, err := rootCmd.Result()
	if err == nil {
		_, err = reply.ReadHash(rootRaw) // the root's error reply first, as go-redis's HGETALL gave it
	}
	if err != nil && reply.NotRead(err) && !reply.IsWrongType(err) && len(cols) == 0 {
		v, ver, ok, err := m.readAgain(root)
		*dst = v
		return ver, ok, err
	}
	if err != nil {
		return "", false, readErr(root, err)
	}
	var d map[string]any
	if len(cols) > 0 {
		d = make(map[string]any, len(cols))
	}
	for i, n := range m.schema.Collections {
		var raw any
		switch c := cols[i].(type) {
		case *redis.StringSliceCmd:
			raw, err = c.Result()
		case *redis.MapStringStringCmd:
			raw, err = c.Result()
		}
		if err != nil {
			return "", false, readErr(keys.Field(root, n.Name), err)
		}
		d[n.Name] = raw
	}
	return m.decodeRawInto(dst, root, rootRaw, d)
}

// readAgain reads the model at root, one hash, on its own, through
// go-redis's HGETALL: for a raw reply of queueVersionedRead that was an
// error other than WRONGTYPE, which in a plain pipeline on a cluster may be
// a redirection (MOVED, ASK, TRYAGAIN) that go-redis follows for its own
// commands only. Inside MULTI/EXEC no such reply comes.
func (m *Model[T]) readAgain(root string) (T, string, bool, error) {
	v, ver, err := m.getHashMap(context.Background(), root)
	if errors.Is(err, errs.NotFound) {
		return v, "", false, nil
	}
	return v, ver, err == nil, err
}

// queueRefresh queues a PEXPIRE of every key of the model at root to its
// TTL, when the model refreshes its TTL on use (Options.RefreshTTL).
func (m *Model[T]) queueRefresh(p redis.Pipeliner, root string) {
	if !m.opts.RefreshTTL {
		return
	}
	p.PExpire(context.Background(), root, m.opts.TTL)
	for _, n := range m.schema.Collections {
		p.PExpire(context.Background(), keys.Field(root, n.Name), m.opts.TTL)
	}
}

// refresh adds to b the refresh of the TTL of the model at t, when the
// model refreshes its TTL on use. The refresh sets the TTL unless an op of
// b set the model's TTL itself (an ops.Expire or ops.Persist of the
// caller's wins): the program builder knows which ops set it
// (prog.RefreshTTL), whatever they are called. It goes last, so that the
// numbers of the caller's ops in errors stay theirs.
func (m *Model[T]) refresh(b tx.Batch, t tx.Target) tx.Batch {
	if !m.opts.RefreshTTL {
		return b
	}
	return tx.Join(b, tx.On(t, prog.RefreshTTL(m.opts.TTL)))
}

// queuedCause is the error of a transaction: err, or when the server
// discarded it (EXECABORT) the refusal of the queued command that made it
// (an ACL's NOPERM, a WRONGTYPE cannot come at queueing).
func queuedCause(cmds []redis.Cmder, err error) error {
	if err == nil {
		return nil
	}
	if !redis.HasErrorPrefix(err, "EXECABORT") {
		return err
	}
	for _, c := range cmds {
		if cerr := c.Err(); cerr != nil && reply.FromServer(cerr) && !redis.HasErrorPrefix(cerr, "EXECABORT") {
			return cerr
		}
	}
	return err
}

// abortedRead types the error of a transaction of reads that the server
// discarded (EXECABORT): the refusal of the queued command that made it (a
// MOVED of a cluster node to a client of one node, an ACL's NOPERM),
// naming that command's key.
func abortedRead(cmds []redis.Cmder, err error) error {
	for _, c := range cmds {
		if cerr := c.Err(); cerr != nil && reply.FromServer(cerr) && !redis.HasErrorPrefix(cerr, "EXECABORT") {
			key := ""
			if args := c.Args(); len(args) > 1 {
				key = fmt.Sprint(args[1])
			}
			return readErr(key, cerr)
		}
	}
	return readErr("", err)
}

// outOfMemory reports whether err is the server's refusal of a command
// while it is at its maxmemory (noeviction): "OOM command not allowed".
func outOfMemory(err error) bool { return err != nil && redis.HasErrorPrefix(err, "OOM") }

// readErr types a refusal of a read of key: WRONGTYPE as ErrWrongType, any
// other (an ACL's NOPERM, OOM, a busy script) as ErrNoPermission or
// ErrRefused, naming key; an error of the network, the client or the
// context (not sent, or its reply lost) as ErrNotSent: a read applies
// nothing.
func readErr(key string, err error) error {
	if err == nil || reply.IsWrongType(err) {
		return reply.WrongType(key, err)
	}
	if !reply.FromServer(err) {
		return reply.Read(err)
	}
	return errs.At(key, reply.Refused(err))
}

// Exists reports whether model id exists.
func (m *Model[T]) Exists(ctx context.Context, id string) (bool, error) {
	if err := m.ready(ctx, "Model.Exists"); err != nil {
		return false, err
	}
	root, err := m.Key(id)
	if err != nil {
		return false, err
	}
	if err := m.groupsOK(ctx); err != nil {
		return false, err
	}
	ok, err := m.rdb.HExists(ctx, root, schema.Reserved+"v").Result()
	if err != nil {
		return false, readErr(root, err)
	}
	if again, merr := m.moveAgain(ctx, id, !ok); merr != nil {
		return false, merr
	} else if again {
		ok, err = m.rdb.HExists(ctx, root, schema.Reserved+"v").Result()
	}
	if err != nil {
		return false, readErr(root, err)
	}
	return ok, nil
}

// Delete removes model id and every one of its keys (not its locks) in one
// step, and reports whether it existed. It is all or nothing: when the root
// key or a collection key holds another Redis type than the model's, it
// fails with ErrWrongType and deletes nothing. A model whose root hash is
// gone while its collection keys or index entries stay (evicted, deleted
// by hand) did not exist: Delete reports false and deletes those in the
// same step (docs/storage.md, "Keys without their root").
func (m *Model[T]) Delete(ctx context.Context, id string) (bool, error) {
	if err := m.ready(ctx, "Model.Delete"); err != nil {
		return false, err
	}
	t := m.Target(id)
	if !t.Valid() {
		return false, t.Err()
	}
	if err := m.groupsOK(ctx); err != nil {
		return false, err
	}
	// One batch of the interpreter, which checks every key's type before
	// it deletes; a missing model is skipped, and reported.
	o := m.opts.Exec
	o.IfMissing = tx.SkipIfMissing
	res, err := tx.Exec(ctx, m.rdb, tx.On(t, ops.Delete[T]()), o)
	if again, merr := m.moveAgain(ctx, id, missed(res, err)); merr != nil {
		return false, merr
	} else if again {
		res, err = tx.Exec(ctx, m.rdb, tx.On(t, ops.Delete[T]()), o)
	}
	if err != nil {
		return false, err
	}
	return !res.Skipped, nil
}

// Expire sets the time to live of model id and every one of its keys, in one
// step. A missing model gives ErrNotFound.
func (m *Model[T]) Expire(ctx context.Context, id string, d time.Duration) error {
	if err := m.ready(ctx, "Model.Expire"); err != nil {
		return err
	}
	if d <= 0 {
		return fmt.Errorf("%w: Expire: a duration must be positive; use Persist to remove a TTL", errs.Invalid)
	}
	_, err := m.exec(ctx, id, tx.Of(ops.Expire[T](d)), false, nil)
	return err
}

// Persist removes the time to live of model id and every one of its keys.
func (m *Model[T]) Persist(ctx context.Context, id string) error {
	if err := m.ready(ctx, "Model.Persist"); err != nil {
		return err
	}
	_, err := m.exec(ctx, id, tx.Of(ops.Persist[T]()), false, nil)
	return err
}

// TTL is the remaining time to live of model id, or NoTTL when it does not
// expire. A missing model gives ErrNotFound.
func (m *Model[T]) TTL(ctx context.Context, id string) (time.Duration, error) {
	if err := m.ready(ctx, "Model.TTL"); err != nil {
		return 0, err
	}
	root, err := m.Key(id)
	if err != nil {
		return 0, err
	}
	if err := m.groupsOK(ctx); err != nil {
		return 0, err
	}
	d, err := m.rdb.PTTL(ctx, root).Result()
	if again, merr := m.moveAgain(ctx, id, err == nil && d == -2); merr != nil {
		return 0, merr
	} else if again {
		d, err = m.rdb.PTTL(ctx, root).Result()
	}
	if err != nil {
		return 0, readErr(root, err)
	}
	switch d {
	case -2 * time.Millisecond, -2:
		return 0, fmt.Errorf("%w: %s", errs.NotFound, root)
	case -1 * time.Millisecond, -1:
		return NoTTL, nil
	}
	return d, nil
}

// IDs iterates over the ids of every stored model with SCAN (never KEYS),
// on every master of a cluster. Lock, batch and collection keys are skipped,
// and so is a key under the prefix that is not a model (not a hash, or a
// hash without the version every model has): each page of SCAN is checked
// in one pipelined round trip. Every id comes once, though SCAN may return
// a key twice when the keyspace changes during the scan: the iteration
// remembers the ids it yielded, which costs memory in proportion to their
// number until it ends: about 20 bytes of map plus the id itself per id
// (measured: 100,000 ids of 24 characters hold about 5 MB). A model created or deleted during
// the scan may or may not come. An error ends the iteration.
//
// A type with indexes (Options.Indexes, without HashTag) is listed by its
// slot groups' lists of ids instead (FindIDs of query.All): exact, each id
// once, ordered by id, a page of 100 per group at a time, no SCAN. While
// Reindex moves the models of a type's first index, that fails with
// ErrNotIndexed: the lists lack the models not moved yet.
func (m *Model[T]) IDs(ctx context.Context) iter.Seq2[string, error] {
	if ctx == nil || m.usable() != nil || m.ix != nil && !m.ix.Tagged { // FindIDs reports a nil ctx, a nil or zero Model
		return m.FindIDs(ctx, query.All[T]())
	}
	return func(yield func(string, error) bool) {
		seen := map[string]struct{}{}
		var nodes []*redis.Client
		switch c := m.rdb.(type) {
		case *redis.ClusterClient:
			var mu sync.Mutex
			err := c.ForEachMaster(ctx, func(_ context.Context, n *redis.Client) error {
				mu.Lock()
				nodes = append(nodes, n)
				mu.Unlock()
				return nil
			})
			if err != nil {
				yield("", reply.Read(err))
				return
			}
		}
		scan := func(s func(cursor uint64) *redis.ScanCmd) bool {
			var cursor uint64
			for {
				batch, next, err := s(cursor).Result()
				if err != nil {
					return yield("", reply.Read(err))
				}
				ids, err := m.models(ctx, batch)
				if err != nil {
					return yield("", reply.Read(err))
				}
				for _, id := range ids {
					if _, dup := seen[id]; dup {
						continue
					}
					seen[id] = struct{}{}
					if !yield(id, nil) {
						return false
					}
				}
				if next == 0 {
					return true
				}
				cursor = next
			}
		}
		pattern := m.layout.Pattern()
		if nodes == nil {
			scan(func(c uint64) *redis.ScanCmd { return m.rdb.Scan(ctx, c, pattern, 256) })
			return
		}
		for _, n := range nodes {
			if !scan(func(c uint64) *redis.ScanCmd { return n.Scan(ctx, c, pattern, 256) }) {
				return
			}
		}
	}
}

// models returns the ids of the keys of one SCAN page that are models: root
// keys by name that are hashes holding the version field, asked in one
// pipelined round trip (through the cluster client on a cluster, which sends
// it to the master the page came from, and follows a slot that moved).
func (m *Model[T]) models(ctx context.Context, page []string) ([]string, error) {
	var ids []string
	var roots []string
	for _, k := range page {
		if id, ok := m.layout.ID(k); ok {
			ids = append(ids, id)
			roots = append(roots, k)
		}
	}
	if len(roots) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.BoolCmd, len(roots))
	_, _ = m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range roots {
			cmds[i] = p.HExists(ctx, k, schema.Reserved+"v")
		}
		return nil
	}) // each command reports its own error
	out := ids[:0]
	for i, c := range cmds {
		ok, err := c.Result()
		switch {
		case reply.IsWrongType(err):
			// A key of another type under the prefix: not a model.
		case err != nil:
			return nil, err
		case ok:
			out = append(out, ids[i])
		}
	}
	return out, nil
}

// givenTwice refuses, with ErrInvalid naming the call and the id, ids that
// hold an id twice.
func givenTwice(call string, ids []string) error {
	if len(ids) <= 16 { // no map for a few
		for i := 1; i < len(ids); i++ {
			if slices.Contains(ids[:i], ids[i]) {
				return fmt.Errorf("%w: %s: id %q is given twice", errs.Invalid, call, ids[i])
			}
		}
		return nil
	}
	seen := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		if _, ok := seen[id]; ok {
			return fmt.Errorf("%w: %s: id %q is given twice", errs.Invalid, call, id)
		}
		seen[id] = struct{}{}
	}
	return nil
}
