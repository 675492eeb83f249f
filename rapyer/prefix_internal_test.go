package rapyer

import (
	"errors"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/keys"
)

type box[T any] struct{ V T }

type pair[A, B any] struct {
	A A
	B B
}

type localItem struct{ N int }

type HTTPServer[T any] struct{ V T }

func TestDefaultPrefixNamesTypeArguments(t *testing.T) {
	for _, c := range []struct {
		t    reflect.Type
		want string
	}{
		{reflect.TypeFor[localItem](), "local_item"},
		{reflect.TypeFor[box[int]](), "box_int"},
		{reflect.TypeFor[box[string]](), "box_string"},
		{reflect.TypeFor[box[time.Duration]](), "box_time_duration"},
		{reflect.TypeFor[box[localItem]](), "box_local_item"},
		{reflect.TypeFor[box[*int]](), "box_ptr_int"},
		{reflect.TypeFor[box[[]string]](), "box_slice_string"},
		{reflect.TypeFor[box[map[string]int]](), "box_map_string_int"},
		{reflect.TypeFor[box[box[int]]](), "box_box_int"},
		{reflect.TypeFor[pair[int, string]](), "pair_int_string"},
		{reflect.TypeFor[pair[*redis.Client, []time.Time]](), "pair_ptr_go_redis_client_slice_time_time"},
		{reflect.TypeFor[HTTPServer[int]](), "http_server_int"},
		{reflect.TypeFor[box[struct{ A int }]](), "box_struct_a_int"},
		{reflect.TypeFor[box[[4]byte]](), "box_4_uint8"},
	} {
		got := defaultPrefix(c.t)
		if got != c.want {
			t.Errorf("defaultPrefix(%s) = %q, want %q", c.t, got, c.want)
		}
		if err := keys.CheckPrefix(got); err != nil {
			t.Errorf("defaultPrefix(%s) = %q: %v", c.t, got, err)
		}
	}
}

// TestPrefixClaimsLetClientsGo: a client given to New and then dropped is
// not kept by the prefix registry, and its claims go at the next sweep.
func TestPrefixClaimsLetClientsGo(t *testing.T) {
	const n = 300
	before := claimCount()
	for range n {
		rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
		if _, err := New[localItem](rdb, Options{}); err != nil {
			t.Fatal(err)
		}
		_ = rdb.Close()
	}
	runtime.GC()
	runtime.GC()
	if after := claimCount(); after > before+n/10 {
		t.Fatalf("claims: %d before, %d after %d dropped clients and a GC: the registry keeps clients alive", before, after, n)
	}
}

// notPointer is a client that is a value, not a pointer: its claims are
// kept strongly, up to maxStrongClaims.
type notPointer struct {
	*redis.Client
	n int
}

func TestPrefixClaimsOfValueClientsAreBounded(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	for i := range 3 * maxStrongClaims {
		if _, err := New[localItem](notPointer{c, i}, Options{}); err != nil {
			t.Fatal(err)
		}
	}
	if got := claimCount(); got > 2*maxStrongClaims {
		t.Fatalf("%d claims after %d value clients", got, 3*maxStrongClaims)
	}
	// A value client is still checked.
	v := notPointer{c, -1}
	if _, err := New[localItem](v, Options{Prefix: "vc"}); err != nil {
		t.Fatal(err)
	}
	if _, err := New[box[int]](v, Options{Prefix: "vc"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("two types on one prefix of a value client: %v", err)
	}
}
