package reply_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/reply"
)

// TestReadHash: the fields of RESP2 and RESP3 HGETALL replies, in place;
// error replies as typed server errors; anything else, or bytes cut short,
// as ErrNotHash.
func TestReadHash(t *testing.T) {
	for _, c := range []struct {
		raw  string
		want []string // names and values in turn
	}{
		{"*0\r\n", nil},
		{"%0\r\n", nil},
		{"*4\r\n$3\r\n__v\r\n$1\r\n1\r\n$4\r\nname\r\n$0\r\n\r\n", []string{"__v", "1", "name", ""}},
		{"%2\r\n$3\r\n__v\r\n$1\r\n1\r\n$4\r\nname\r\n$4\r\na\r\nb\r\n", []string{"__v", "1", "name", "a\r\nb"}},
		{"%1\r\n$10\r\n0123456789\r\n$2\r\n\x00\xff\r\n", []string{"0123456789", "\x00\xff"}},
	} {
		h, err := reply.ReadHash([]byte(c.raw))
		if err != nil {
			t.Fatalf("%q: %v", c.raw, err)
		}
		if h.Len() != len(c.want)/2 {
			t.Errorf("%q: Len %d, want %d", c.raw, h.Len(), len(c.want)/2)
		}
		var got []string
		for name, value, ok, err := h.Next(); ok || err != nil; name, value, ok, err = h.Next() {
			if err != nil {
				t.Fatalf("%q: %v", c.raw, err)
			}
			got = append(got, name, value)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%q: %q, want %q", c.raw, got, c.want)
		}
	}
}

func TestReadHashErrors(t *testing.T) {
	for _, c := range []struct {
		raw, server string // server: the error reply's text, or "" for ErrNotHash
	}{
		{"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "WRONGTYPE Operation against a key holding the wrong kind of value"},
		{"-MOVED 3999 127.0.0.1:6381\r\n", "MOVED 3999 127.0.0.1:6381"},
		{"!9\r\nERR boom!\r\n", "ERR boom!"},
		{"", ""}, {"*", ""}, {"*3\r\n", ""}, {"$-1\r\n", ""}, {"_\r\n", ""}, {"+OK\r\n", ""},
		{"*x\r\n", ""}, {"*2\n", ""}, {"!99\r\nERR\r\n", ""}, {"%99999999999999999999\r\n", ""},
	} {
		_, err := reply.ReadHash([]byte(c.raw))
		if !reply.NotRead(err) {
			t.Errorf("%q: NotRead(%v) is false", c.raw, err)
		}
		var se reply.ServerError
		switch {
		case c.server == "" && !errors.Is(err, reply.ErrNotHash):
			t.Errorf("%q: %v, want ErrNotHash", c.raw, err)
		case c.server != "" && (!errors.As(err, &se) || string(se) != c.server || !reply.FromServer(err)):
			t.Errorf("%q: %#v, want the server's %q", c.raw, err, c.server)
		}
	}
	_, wrong := reply.ReadHash([]byte("-WRONGTYPE Operation against a key\r\n"))
	if !reply.IsWrongType(wrong) || !errors.Is(reply.WrongType("k", wrong), errs.WrongType) {
		t.Errorf("a raw WRONGTYPE reply is not read as WRONGTYPE: %v", wrong)
	}
	if reply.NotRead(nil) || reply.NotRead(errors.New("ERR boom")) {
		t.Error("NotRead of an error that is no reply")
	}
}

// TestHashCutShort: a reply whose bytes end before the fields its head
// announced, or whose lengths do not match, gives ErrNotHash from Next, at
// every place it may be cut.
func TestHashCutShort(t *testing.T) {
	full := "*4\r\n$3\r\n__v\r\n$1\r\n1\r\n$4\r\nname\r\n$3\r\nAda\r\n"
	for i := 4; i < len(full); i++ {
		for _, raw := range []string{full[:i], full[:i] + "\x00"} {
			h, err := reply.ReadHash([]byte(raw))
			for err == nil {
				var ok bool
				if _, _, ok, err = h.Next(); !ok && err == nil {
					t.Fatalf("%q: read to the end", raw)
				}
			}
			if !errors.Is(err, reply.ErrNotHash) {
				t.Errorf("%q: %v, want ErrNotHash", raw, err)
			}
		}
	}
	h, _ := reply.ReadHash([]byte("*2\r\n$3\r\nabc\r\n$1\r\nxy\r\n"))
	if _, _, _, err := h.Next(); !errors.Is(err, reply.ErrNotHash) {
		t.Errorf("a bulk longer than its length: %v", err)
	}
}

// TestHashBadBulkLengths: a field's length that is missing, not a number,
// past the reply's end (up to overflowing an int), negative (a nil bulk)
// or not followed by CRLF gives ErrNotHash, and a field ending exactly at
// the reply's end is read.
func TestHashBadBulkLengths(t *testing.T) {
	for _, head := range []string{"$", "$x", "$-1", "$99999999999999999999", "$9223372036854775808", "$18446744073709551617",
		"$3\n", "$3\r", "$3 ", "$+3", "$ 3", "+OK", ":3"} {
		raw := "%1\r\n$3\r\n__v\r\n" + head + "\r\nabc\r\n"
		h, err := reply.ReadHash([]byte(raw))
		if err == nil {
			_, _, _, err = h.Next()
		}
		if !errors.Is(err, reply.ErrNotHash) {
			t.Errorf("%q: %v, want ErrNotHash", raw, err)
		}
	}
	h, err := reply.ReadHash([]byte("%1\r\n$3\r\n__v\r\n$3\r\nabc\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if name, value, ok, err := h.Next(); !ok || err != nil || name != "__v" || value != "abc" {
		t.Errorf("a field at the reply's end: %q %q %v %v", name, value, ok, err)
	}
}
