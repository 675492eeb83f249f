package lua_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/internal/schema"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/internal/transport"
	"github.com/rapyer-go/rapyer/ops"
)

type flat struct {
	Name string
	Age  int
}

// TestFailedSaveLeavesNoRecord: a save writes its record first (SET NX)
// and takes it back when it fails, so that a resend (the same program,
// the same id) runs again instead of being taken for a duplicate: with
// DEL, or, for a user who may not DEL the record, by marking it F.
func TestFailedSaveLeavesNoRecord(t *testing.T) {
	b := testenv.On(t, testenv.Server)
	ctx := context.Background()
	sm, err := schema.For[flat]()
	if err != nil {
		t.Fatal(err)
	}
	root := b.Prefix + "flat:{a}"
	target := prog.Target{Root: root, Model: sm}
	build := func(id string, mode prog.Mode) *prog.Program {
		pb := prog.NewBuilder()
		pb.Declare(target, mode)
		if err := ops.Replace(flat{Name: "x"}).Compile(pb, target); err != nil {
			t.Fatal(err)
		}
		return pb.Build(prog.Header{ID: id, Record: "tx{" + b.Prefix + "}:" + id, RecordMS: 60000})
	}
	if err := b.Client.HSet(ctx, root, "__v", "5", "name", "old").Err(); err != nil {
		t.Fatal(err)
	}
	noDel := testenv.ACLUser(t, b.Client, "resetkeys", "~*", "nocommands", "+fcall", "+function|load", "+hget", "+hset",
		"+type", "+get", "+set", "+time", "+command", "+ping", "+hello", "+client").Client
	for _, who := range []struct {
		name, record string
		want         error
	}{{"admin", "", errs.Exists}, {"a user who may not DEL", "F", errs.NoPermission}} {
		id := "fail-" + fmt.Sprint(len(who.name))
		p := build(id, prog.Fresh) // the model exists: EXISTS
		c := b.Client
		if who.record == "F" {
			c = noDel
			p = build(id, prog.Create) // DEL refused: NOPERM
		}
		for try := range 2 {
			reply, err := transport.Run(ctx, c, p)
			if err != nil {
				t.Fatalf("%s: %v", who.name, err)
			}
			if out, err := transport.Decode(p, reply); !errors.Is(err, who.want) || out != nil {
				t.Fatalf("%s, send %d: %v, %+v; want the save refused again", who.name, try+1, err, out)
			}
		}
		if got := b.Client.Get(ctx, p.Record()).Val(); got != who.record {
			t.Fatalf("%s: the record of a refused save holds %q, want %q", who.name, got, who.record)
		}
		if v := b.Client.HGet(ctx, root, "__v").Val(); v != "5" {
			t.Fatalf("%s: a refused save wrote the version %s", who.name, v)
		}
	}
}
