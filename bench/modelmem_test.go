package bench_test

// Memory per model (issue #13, "memory per model and per batch record
// recorded, with the layout's share explained"): the 8-field Item as rapyer
// stores it (the root hash <prefix>:{<id>} with the hidden version __v) and
// as om's HashRepository does (the twin of peers_test.go: one hash
// <prefix>:<id> with the key field id and the version ver), then the same
// with one list field. om's hash converter has no list type (its slice
// converters are []byte and float vectors; a field whose type implements
// json.Marshaler is stored as its JSON text), so the om side of "hash + one
// list" keeps the list as one JSON field of its hash, where rapyer gives it
// a key of its own (<prefix>:{<id>}:tags, a Redis list).

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/rapyer-go/rapyer/rapyer"
)

// ItemTags is Item with one list field (under the prefix itag: a client
// gives a prefix to one model type).
type ItemTags struct {
	Name    string
	Email   string
	City    string
	Age     int
	Score   float64
	Active  bool
	Visits  int64
	Balance int64
	Tags    []string
}

func newItemTags(n int) ItemTags {
	it := newItem()
	v := ItemTags{Name: it.Name, Email: it.Email, City: it.City, Age: it.Age, Score: it.Score,
		Active: it.Active, Visits: it.Visits, Balance: it.Balance}
	for i := range n {
		v.Tags = append(v.Tags, "tag-"+strconv.Itoa(i))
	}
	return v
}

func (v ItemTags) item() Item {
	return Item{Name: v.Name, Email: v.Email, City: v.City, Age: v.Age, Score: v.Score,
		Active: v.Active, Visits: v.Visits, Balance: v.Balance}
}

// memCase is one row of the model memory table: how to store model i, the
// keys it has, and how to check that model i reads back.
type memCase struct {
	name  string
	save  func(e *env, id string) error
	keys  func(id string) []string
	check func(e *env, id string) error
}

// memModelCases are the rows: our Item and om's, then with a list of 5 tags
// (its JSON, 41 bytes, fits a listpack entry) and of 20 (171 bytes of JSON:
// above hash-max-listpack-value, 64, so om's hash becomes a hashtable).
func memModelCases(e *env) []memCase {
	item := itemModel(e)
	tagged := rapyer.MustNew[ItemTags](e.rdb, rapyer.Options{Prefix: "itag"})
	cases := []memCase{
		{
			name: "rapyer Item: root hash, 8 fields + __v",
			save: func(e *env, id string) error { return item.Save(e.ctx, id, newItem()) },
			keys: func(id string) []string { return []string{"item:{" + id + "}"} },
			check: func(e *env, id string) error {
				return sameItem(item.Get(e.ctx, id))(newItem())
			},
		},
		{
			name: "om twin Item: one hash, id + 8 fields + ver",
			save: func(e *env, id string) error {
				_, err := omSave(e.ctx, e.rdb, "item:"+id, 0, itemFields(id, newItem()))
				return err
			},
			keys:  func(id string) []string { return []string{"item:" + id} },
			check: func(e *env, id string) error { return checkOmTags(e, "item:"+id, id, nil) },
		},
	}
	for _, n := range []int{5, 20} {
		want := newItemTags(n)
		js, _ := json.Marshal(want.Tags)
		cases = append(cases,
			memCase{
				name: fmt.Sprintf("rapyer Item + %d-tag list: root hash + list key", n),
				save: func(e *env, id string) error { return tagged.Save(e.ctx, id, want) },
				keys: func(id string) []string { return []string{"itag:{" + id + "}", "itag:{" + id + "}:tags"} },
				check: func(e *env, id string) error {
					got, err := tagged.Get(e.ctx, id)
					if err == nil && (got.item() != want.item() || strings.Join(got.Tags, ",") != strings.Join(want.Tags, ",")) {
						err = fmt.Errorf("stored %+v, want %+v", got, want)
					}
					return err
				},
			},
			memCase{
				name: fmt.Sprintf("om twin Item + %d tags as one JSON field (%d B)", n, len(js)),
				save: func(e *env, id string) error {
					_, err := omSave(e.ctx, e.rdb, "itag:"+id, 0, append(itemFields(id, newItem()), "tags", string(js)))
					return err
				},
				keys:  func(id string) []string { return []string{"itag:" + id} },
				check: func(e *env, id string) error { return checkOmTags(e, "itag:"+id, id, want.Tags) },
			})
	}
	return cases
}

// checkOmTags reads the om twin's hash of id at key back: the item, its key field
// and version, and the tags (none when tags is nil).
func checkOmTags(e *env, key, id string, tags []string) error {
	h, err := e.rdb.HGetAll(e.ctx, key).Result()
	if err != nil {
		return err
	}
	if h["id"] != id || h["ver"] != "1" {
		return fmt.Errorf("om twin: id %q ver %q", h["id"], h["ver"])
	}
	if err := sameItem(decodeItem(h))(newItem()); err != nil {
		return err
	}
	if tags == nil {
		return nil
	}
	var got []string
	if err := json.Unmarshal([]byte(h["tags"]), &got); err != nil {
		return err
	}
	if strings.Join(got, ",") != strings.Join(tags, ",") {
		return fmt.Errorf("om twin: tags %v, want %v", got, tags)
	}
	return nil
}

// memRow is what modelMemory measured for one case.
type memRow struct {
	perModel  float64 // INFO memory used_memory delta per model
	keys      float64 // keys per model
	usage     []int64 // MEMORY USAGE per key of a model, averaged over the samples
	encodings []string
}

// modelMemory stores n models of c on e's emptied server and measures them.
// The batch records of rapyer's saves are dropped every 500 saves, so that
// neither their bytes nor the larger key table they would need count here
// (their cost is the record table's). samples models are checked (read
// back) and looked at with MEMORY USAGE and OBJECT ENCODING.
func modelMemory(t testing.TB, e *env, c memCase, n, samples int) memRow {
	used := func() float64 {
		info, err := e.rdb.Info(e.ctx, "memory").Result()
		must(t, err)
		v, err := strconv.ParseFloat(infoField(info, "used_memory"), 64)
		must(t, err)
		return v
	}
	dropRecords := func() {
		must(t, e.rdb.Eval(e.ctx, `for _, k in ipairs(redis.call('KEYS', 'tx{*')) do redis.call('UNLINK', k) end return 0`, nil).Err())
	}
	must(t, e.rdb.FlushAll(e.ctx).Err())
	// One save first loads the function library or the script.
	must(t, c.save(e, "warm"))
	must(t, e.rdb.FlushAll(e.ctx).Err())
	base := used()
	for i := range n {
		must(t, c.save(e, "m"+strconv.Itoa(i)))
		if (i+1)%500 == 0 || i == n-1 {
			dropRecords()
		}
	}
	row := memRow{perModel: (used() - base) / float64(n)}
	row.keys = float64(e.rdb.DBSize(e.ctx).Val()) / float64(n)
	step := max(n/samples, 1)
	var taken int64
	for i := 0; i < n; i += step {
		id := "m" + strconv.Itoa(i)
		if err := c.check(e, id); err != nil {
			t.Fatalf("%s: model %s: %v", c.name, id, err)
		}
		keys := c.keys(id)
		if row.usage == nil {
			row.usage = make([]int64, len(keys))
			for _, k := range keys {
				enc, err := e.rdb.ObjectEncoding(e.ctx, k).Result()
				must(t, err)
				row.encodings = append(row.encodings, enc)
			}
		}
		for j, k := range keys {
			u, err := e.rdb.MemoryUsage(e.ctx, k, 0).Result()
			must(t, err)
			row.usage[j] += u
		}
		taken++
	}
	for j := range row.usage {
		row.usage[j] /= taken
	}
	return row
}

// modelMemoryTable measures every case with n models each on a server of
// its own and returns the markdown table.
func modelMemoryTable(t testing.TB, n int) string {
	e := newEnv(t)
	cfg, err := e.rdb.ConfigGet(e.ctx, "hash-max-listpack-*").Result()
	must(t, err)
	var sb strings.Builder
	fmt.Fprintf(&sb, "Memory per model (%d models per row, INFO memory used_memory delta per model, batch records dropped; MEMORY USAGE ... SAMPLES 0 per key, mean of 100 models; hash-max-listpack-entries %s, hash-max-listpack-value %s):\n\n",
		n, cfg["hash-max-listpack-entries"], cfg["hash-max-listpack-value"])
	sb.WriteString("| model | bytes per model | keys per model | MEMORY USAGE per key | not in MEMORY USAGE | encoding |\n|---|---:|---:|---|---:|---|\n")
	for _, c := range memModelCases(e) {
		r := modelMemory(t, e, c, n, 100)
		u := make([]string, len(r.usage))
		var sum int64
		for i, v := range r.usage {
			u[i] = strconv.FormatInt(v, 10)
			sum += v
		}
		// The rest is what MEMORY USAGE leaves out: the key table's
		// bucket slots and allocator rounding.
		fmt.Fprintf(&sb, "| %s | %.0f | %.0f | %s | %.0f | %s |\n", c.name, r.perModel, r.keys,
			strings.Join(u, " + "), r.perModel-float64(sum), strings.Join(r.encodings, " + "))
	}
	return sb.String()
}

// TestModelMemory prints the model memory table (part of make bench):
// RAPYER_BENCH=1 go test -count=1 -run TestModelMemory -v ./bench/
// Without RAPYER_BENCH it stores a few models of every row and checks that
// they read back, so the measured layouts are the ones Get and the om
// twin's Fetch decode.
func TestModelMemory(t *testing.T) {
	if os.Getenv("RAPYER_BENCH") != "1" {
		e := newEnv(t)
		for _, c := range memModelCases(e) {
			r := modelMemory(t, e, c, 20, 20)
			if len(r.usage) != len(c.keys("x")) || r.usage[0] <= 0 {
				t.Errorf("%s: %+v", c.name, r)
			}
			if n, err := e.rdb.DBSize(e.ctx).Result(); err != nil || n != int64(20*len(c.keys("x"))) {
				t.Error(errors.Join(err, fmt.Errorf("%s: %d keys, want %d (records left?)", c.name, n, 20*len(c.keys("x")))))
			}
		}
		return
	}
	fmt.Print(modelMemoryTable(t, memModels))
}
