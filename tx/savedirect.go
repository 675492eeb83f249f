package tx

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/codec"
	"github.com/rapyer-go/rapyer/internal/keys"
	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/internal/random"
	rp "github.com/rapyer-go/rapyer/internal/reply"
	"github.com/rapyer-go/rapyer/internal/schema"
	"github.com/rapyer-go/rapyer/internal/shape"
	"github.com/rapyer-go/rapyer/internal/transport"
)

// A Save's direct path. A batch that is a plain Save (ops.Replace, and
// maybe ops.Expire or ops.Persist, on one model without collections or
// indexes: rapyer's Save, Create and Insert of such a model) is sent
// without a program: the batch id is chosen first, the value's fields are
// encoded straight into the words of its compiled save's call (package
// shape), which the direct path finds by the model, the field set and the
// options. The first Save of each such shape builds the program once, to
// find the compiled save and to check that the direct words are those
// shape.Command lays out from the program. Whenever the program is needed
// after all (the script answered {'AGAIN'}, or with anything but 'OK'),
// it is built with the same id: a resend of a lost reply, direct or by
// the interpreter, is the same batch, answered from its record.

// saveShape is a compiled save the direct path found for one model, field
// set, mode, TTL action and record lifetime; shape nil: that save goes by
// a program.
type saveShape struct {
	model  *schema.Model
	mode   prog.Mode
	ttl    prog.TTL
	ttlms  int64
	recms  int64
	names  []string
	shape  *shape.Shape
	instrs int // the program's instructions (Result's owners)
}

// same reports whether e is the shape of a direct save of these words.
func (e *saveShape) same(m *schema.Model, mode prog.Mode, ttl prog.TTL, ttlms, recms int64, names []string) bool {
	if e.model != m || e.mode != mode || e.ttl != ttl || e.ttlms != ttlms || e.recms != recms || len(e.names) != len(names) {
		return false
	}
	for i, n := range names {
		if e.names[i] != n {
			return false
		}
	}
	return true
}

// shapeList holds the shapes a direct path found, up to maxSaveShapes: a
// list that is never changed once published (read by one atomic load),
// replaced by a longer copy under mu.
type shapeList[E any] struct {
	p  atomic.Pointer[[]E]
	mu sync.Mutex
}

// maxSaveShapes bounds a shapeList; past it, new shapes go by a program.
const maxSaveShapes = 64

// load returns the list as last published.
func (s *shapeList[E]) load() []E {
	if l := s.p.Load(); l != nil {
		return *l
	}
	return nil
}

// add appends e unless the list is full or held reports that it holds the
// same shape already (held is asked under mu, so two finders of one shape
// add it once).
func (s *shapeList[E]) add(e E, held func() bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.load()
	if len(l) >= maxSaveShapes || held() {
		return
	}
	l = append(l[:len(l):len(l)], e)
	s.p.Store(&l)
}

// saveShapes holds the shapes of the Save's direct path.
var saveShapes shapeList[*saveShape]

func findSaveShape(m *schema.Model, mode prog.Mode, ttl prog.TTL, ttlms, recms int64, names []string) *saveShape {
	for _, e := range saveShapes.load() {
		if e.same(m, mode, ttl, ttlms, recms, names) {
			return e
		}
	}
	return nil
}

func addSaveShape(e *saveShape) {
	saveShapes.add(e, func() bool { return findSaveShape(e.model, e.mode, e.ttl, e.ttlms, e.recms, e.names) != nil })
}

// plainSave reports whether b is a plain Save (ok), with its target, the
// value it writes and what it does to the TTL.
func plainSave(b Batch) (t prog.Target, v unsafe.Pointer, ttl prog.TTL, ms int64, ok bool) {
	if shape.Off.Load() || len(b.items) == 0 || len(b.items) > 2 {
		return
	}
	it := b.items[0]
	if it.op == nil || it.target == nil || !it.target.Valid() {
		return
	}
	t = it.target.t
	w, whole := it.op.(prog.Whole)
	if !whole || t.Index != nil || len(t.Model.Collections) > 0 {
		return
	}
	if v, ok = w.WholeValue(t); !ok {
		return
	}
	ttl = prog.Keep
	if len(b.items) == 2 {
		l, life := b.items[1].op.(prog.Lifetimed)
		if !life || b.items[1].target == nil || *b.items[1].target != *it.target {
			return t, v, ttl, 0, false
		}
		ttl, ms, ok = l.LifetimeOf(t)
	}
	return
}

// direct is a plain Save on its way: the words of its compiled save's
// call, and its program once one is built (with the same id).
type direct struct {
	b      Batch
	opts   Options
	id     string
	rec    string
	words  []string // the keys and the values cmd points at
	cmd    []any
	shape  *saveShape
	p      *prog.Program
	interp bool // the compiled save left the batch to the interpreter
	// pooled: rec is a key of the record pool (recordpool.go), pk what the
	// client knows of it; unsure: a send may have reached the server
	// unanswered, so rec never goes back; ran: the compiled save answered
	// that it wrote the model (its record word's write went through)
	pooled, unsure, ran bool
	pk                  pooledKey
	res                 Result
	// lk, for a model Lock's save (lockdirect.go), is what it has besides
	// (kept apart, so that a Save's direct call stays in its size class)
	lk *lockCall
	// room for the words and the call of a Save of up to 14 fields (the
	// root, the record key, the batch id, the values and the record word),
	// allocated with it
	wordRoom [18]string
	cmdRoom  [21]any
}

// directIDs is the batch id and record key of a direct Save on root, made
// with one allocation: id ("" for a fresh one), and the record key when
// the Save has a record (the id is its end).
func directIDs(root, id string, record bool) (string, string) {
	var room [96]byte
	b := room[:0]
	if record {
		b = keys.AppendTxPrefix(b, root)
	}
	at := len(b)
	if id == "" {
		b = random.AppendShort(b, batchIDBytes)
	} else {
		b = append(b, id...)
	}
	s := string(b)
	if !record {
		return s, ""
	}
	return s[at:], s
}

// saveDirect runs b by the direct path when it is a plain Save (done), as
// batch id (a fresh one for ""), and reports done false, having sent
// nothing, for any other batch.
func saveDirect(ctx context.Context, rdb redis.UniversalClient, b Batch, opts Options, id string) (*Result, bool, error) {
	t, v, ttl, ttlms, ok := plainSave(b)
	if !ok {
		return nil, false, nil
	}
	life, err := opts.record()
	if err != nil {
		return nil, false, nil
	}
	mode := opts.mode()
	if mode == prog.Need {
		mode = prog.Create // a batch that replaces the model creates it
	}
	d := &direct{b: b, opts: opts}
	// a fresh id takes a record key of the pool once the save's shape is
	// known (below); the first Save of a shape, and a given id (whose
	// record must be found by its id), name the record by the id
	d.id, d.rec = directIDs(t.Root, id, life > 0 && id != "")
	d.words = append(d.wordRoom[:0], t.Root)
	nk := 1
	if life > 0 {
		// the keys, then the batch id, the compiled save's first ARGV word
		d.words, nk = append(d.words, d.rec, d.id), 2
	}
	var nameRoom [32]string
	names, words, err := codec.AppendFields(nameRoom[:0], d.words, t.Model, v)
	if err != nil {
		return nil, false, nil // the program reports the error
	}
	if life > 0 {
		words = append(words, "") // the record word (shape's record): "" by default
	}
	d.setWords(words, nk)
	if d.shape = findSaveShape(t.Model, mode, ttl, ttlms, life.Milliseconds(), names); d.shape == nil {
		if life > 0 && d.rec == "" {
			d.rec = keys.Tx(t.Root, d.id)
			d.words[1] = d.rec
		}
		p, err := d.program(rdb)
		if err != nil {
			return nil, true, err
		}
		d.shape = d.find(p, t.Model, mode, ttl, ttlms, life.Milliseconds(), names)
		if d.shape.shape == nil {
			r, err := execProgram(ctx, rdb, p, opts)
			return r, true, err
		}
	}
	if d.shape.shape == nil {
		return nil, false, nil
	}
	return d.execPooled(ctx, rdb, t.Root, life)
}

// execPooled sends d, a Save whose record lives life (0: none), on a
// record key of the pool of root's slot when it has none yet, with the
// record word of what the pool knows of that key, and gives the key back,
// with what the client knows of it then, once d settled on its first send.
func (d *direct) execPooled(ctx context.Context, rdb redis.UniversalClient, root string, life time.Duration) (*Result, bool, error) {
	var sent time.Time
	if life > 0 && d.rec == "" {
		d.pk, d.pooled = takeRecordKey(root), true
		d.rec, d.words[1] = d.pk.key, d.pk.key
		sent = time.Now()
		d.words[len(d.words)-1] = d.pk.word(sent, life)
	}
	r, err := d.exec(ctx, rdb)
	if err == nil && d.pooled && !d.unsure {
		putRecordKey(root, d.pk.after(d.ran, d.id, d.words[len(d.words)-1], sent, life))
	}
	return r, true, err
}

// word is the record word of a Save that takes k at now, for records of
// lifetime life (shape's record): k's last id, when k lives long enough to
// keep its lifetime; '+' for a known key about to live too short; "" for
// a key the client does not know.
//
// How long k still lives is the shorter of the monotonic and the wall
// clock's reading: a monotonic clock stands still while the machine is
// suspended, when the server's clock goes on; a wall clock may be set back.
func (k pooledKey) word(now time.Time, life time.Duration) string {
	if k.prev == "" {
		return ""
	}
	left := min(k.until.Sub(now), k.until.Round(0).Sub(now.Round(0)))
	if left >= keepLeft(life) {
		return k.prev
	}
	return "+"
}

// after is k after a Save settled on its first send, with word as its
// record word, its choice taken at sent: ran, the compiled save wrote its
// id (id) with the lifetime word asked, or with KEEPTTL on a key whose
// until still holds (or refreshed it from later than sent, which outlasts
// until); otherwise the client no longer knows what the key holds.
func (k pooledKey) after(ran bool, id, word string, sent time.Time, life time.Duration) pooledKey {
	if !ran {
		return pooledKey{key: k.key}
	}
	ms := life.Milliseconds()
	switch word {
	case "":
		k.until = sent.Add(time.Duration(ms) * time.Millisecond)
	case "+":
		k.until = sent.Add(time.Duration(shape.RefreshMS(ms)) * time.Millisecond)
	}
	k.prev = id
	return k
}

// setWords makes words, the first nk of them keys, the words of d's call:
// its command is boxed in the room d holds when they fit, each word boxed
// by pointer (prog.Boxed), the first two words left for the call's name
// and script.
func (d *direct) setWords(words []string, nk int) {
	d.words, d.cmd = words, d.cmdRoom[:0]
	if 3+len(words) > len(d.cmdRoom) {
		d.cmd = make([]any, 0, 3+len(words))
	}
	d.cmd = d.cmd[:3+len(words)]
	d.cmd[2] = keyCounts[nk]
	for i := range words {
		d.cmd[3+i] = prog.Boxed(&d.words[i])
	}
}

// keyCounts are the numbers of keys of a direct call, boxed once.
var keyCounts = [...]any{"0", "1", "2", "3"}

// find makes the saveShape of the direct call from its program p, and
// keeps it: a shape whose compiled call is not the direct words (or none)
// keeps the save on its program.
func (d *direct) find(p *prog.Program, m *schema.Model, mode prog.Mode, ttl prog.TTL, ttlms, recms int64, names []string) *saveShape {
	e := &saveShape{model: m, mode: mode, ttl: ttl, ttlms: ttlms, recms: recms, names: append([]string(nil), names...), instrs: len(p.Instrs)}
	s := shape.For(p)
	if p.Lean() && s != nil && p.Record() == d.rec && sameWords(s.Command(p)[2:], d.cmd[2:]) && ownedByFirst(p, d.b) {
		e.shape = s
	}
	addSaveShape(e)
	return e
}

// sameWords reports whether two calls have the same words (texts).
func sameWords(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, ok1 := a[i].(string)
		y, ok2 := b[i].(string)
		if !ok1 || !ok2 || x != y {
			return false
		}
	}
	return true
}

// ownedByFirst reports whether every instruction of p is of b's first op
// (the Replace: a direct Save's Result names it as their owner).
func ownedByFirst(p *prog.Program, b Batch) bool {
	for _, in := range p.Instrs {
		if any(in.Owner) != any(b.items[0].op) {
			return false
		}
	}
	return true
}

// program is the Save's program, built once, with the direct call's id.
func (d *direct) program(rdb redis.UniversalClient) (*prog.Program, error) {
	if d.p != nil {
		return d.p, nil
	}
	pb, err := compile(d.b, d.opts.mode())
	if err != nil {
		return nil, err
	}
	p, err := buildRec(pb, rdb, d.opts, d.id, d.rec)
	if err != nil {
		return nil, err
	}
	d.p = p
	return p, nil
}

// exec sends the direct call (resent by run as a program is) and makes
// its Result.
func (d *direct) exec(ctx context.Context, rdb redis.UniversalClient) (*Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, rp.NotSent(err)
	}
	reply, err := run(ctx, rdb, call{d: d}, d.opts)
	if err != nil {
		return nil, err
	}
	if d.lk != nil {
		if a, ok := reply.([]any); ok && len(a) == 2+d.lk.e.instrs && a[0] == "OK" {
			return d.lk.result(a[2:]), nil
		}
	} else if a, ok := reply.([]any); ok && len(a) == 1 && a[0] == "OK" {
		d.ran = !d.interp
		r := &d.res
		r.Attempts, r.owners = 1, r.ownerRoom[:0]
		for range d.shape.instrs {
			r.owners = append(r.owners, d.b.items[0].op)
		}
		return r, nil
	}
	p, err := d.program(rdb)
	if err != nil {
		return nil, err
	}
	out, err := transport.Decode(p, reply)
	if err != nil {
		return nil, err
	}
	return newResult(p, out), nil
}

// send sends the direct call once; once its compiled save left it to the
// interpreter, its program (the same id) to the interpreter.
func (d *direct) send(ctx context.Context, rdb redis.UniversalClient) (any, error) {
	if !d.interp {
		var sh *shape.Shape
		if d.lk != nil {
			sh = d.lk.e.shape
		} else {
			sh = d.shape.shape
		}
		res, done, err := transport.RunShape(ctx, rdb, sh, d.cmd)
		if done {
			d.mayBeLost(err)
			return res, err
		}
		d.interp = true
	}
	p, err := d.program(rdb)
	if err != nil {
		return nil, err
	}
	res, err := transport.RunInterpreter(ctx, rdb, p)
	d.mayBeLost(err)
	return res, err
}

// mayBeLost notes a send's error that may mean the send reached the server
// unanswered: its record key then never goes back to the pool.
func (d *direct) mayBeLost(err error) {
	if err != nil && !rp.FromServer(err) && !notSent(err) {
		d.unsure = true
	}
}
