package rapyer

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"unicode"
	"weak"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/schema"
)

// defaultPrefix is the prefix of a model of type t when Options.Prefix is
// empty: the type's name in snake case, followed by its type arguments, so
// that two instances of one generic type never share keys:
//
//	Account                    account
//	Box[int]                   box_int
//	Box[string]                box_string
//	Box[time.Duration]         box_time_duration
//	Box[shop.Item]             box_item (Box in package shop too)
//	Pair[*int,[]string]        pair_ptr_int_slice_string
//	Box[map[string]Pair[a,b]]  box_map_string_pair_a_b
//
// A type argument from another package keeps its package's name (the last
// element of its path); one from the package of t drops it. The result holds
// letters, digits and underscores only, which keys.CheckPrefix accepts.
func defaultPrefix(t reflect.Type) string {
	name := t.Name()
	i := strings.IndexByte(name, '[')
	if i < 0 {
		return schema.SnakeCase(name)
	}
	words := []string{schema.SnakeCase(name[:i])}
	for _, w := range typeWords(name[i+1:len(name)-1], t.PkgPath()) {
		words = append(words, schema.SnakeCase(w))
	}
	return strings.Join(words, "_")
}

// typeWords splits the text of type arguments, as reflect names them
// ("int,github.com/x/shop.Item,*[]time.Duration"), into words: identifiers,
// with a package path cut to its package's name (pkgName) and dropped altogether when
// it is own, the package of the generic type; "*" reads "ptr" and "[]"
// "slice". Other punctuation separates words.
func typeWords(args, own string) []string {
	var words []string
	isIdent := func(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }
	isPath := func(r rune) bool { return isIdent(r) || r == '.' || r == '/' || r == '-' || r == '~' || r == '%' }
	rs := []rune(args)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case r == '*':
			words = append(words, "ptr")
			i++
		case r == '[' && i+1 < len(rs) && rs[i+1] == ']':
			words = append(words, "slice")
			i += 2
		case isPath(r) && r != '.':
			j := i
			for j < len(rs) && isPath(rs[j]) {
				j++
			}
			tok := string(rs[i:j])
			i = j
			// A qualified name is path.Name: the last dot after the last
			// slash splits the package path from the name.
			slash := strings.LastIndexByte(tok, '/')
			if dot := strings.LastIndexByte(tok, '.'); dot > slash {
				path, n := tok[:dot], tok[dot+1:]
				if path != own {
					words = append(words, splitIdent(pkgName(path), isIdent)...)
				}
				tok = n
			}
			words = append(words, splitIdent(tok, isIdent)...)
		default:
			i++
		}
	}
	return words
}

// pkgName guesses the name of the package at path: its last element, or the
// one before a major version suffix ("github.com/redis/go-redis/v9" ->
// "go-redis").
func pkgName(path string) string {
	elems := strings.Split(path, "/")
	last := elems[len(elems)-1]
	if len(elems) > 1 && len(last) > 1 && last[0] == 'v' && strings.Trim(last[1:], "0123456789") == "" {
		return elems[len(elems)-2]
	}
	return last
}

// splitIdent keeps the identifier runs of s (a package name may hold a dot
// or a dash: "go-redis", "v9").
func splitIdent(s string, isIdent func(rune) bool) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return !isIdent(r) })
}

// Prefix claims: two models of different types that share a prefix on one
// client would read and overwrite each other's keys, so New refuses the
// second. A claim names the client weakly: a client that is dropped takes
// its claims with it, at the next sweep.
type claimKey struct {
	client any // weak.Pointer[byte] for a pointer client, else the client value
	prefix string
}

type claim struct {
	typ   reflect.Type
	alive func() bool
}

var claims struct {
	sync.Mutex
	m         map[claimKey]claim
	nextSweep int
	strong    int // claims that hold their client (a comparable non-pointer client)
}

// maxStrongClaims bounds the claims of clients that cannot be held weakly;
// past it they are forgotten, which costs the check, not an answer.
const maxStrongClaims = 1024

// clientRef returns what a claim keys a client by, a function telling
// whether the client is still alive, and false for a client that cannot be
// a key (a value of a type that is not comparable).
func clientRef(c redis.UniversalClient) (ref any, alive func() bool, strong bool, ok bool) {
	v := reflect.ValueOf(c)
	switch {
	case v.Kind() == reflect.Pointer:
		w := weak.Make((*byte)(v.UnsafePointer()))
		return w, func() bool { return w.Value() != nil }, false, true
	case v.Type().Comparable():
		return c, func() bool { return true }, true, true
	}
	return nil, nil, false, false
}

// claimPrefix records that the models of type t use prefix on rdb, and
// fails with ErrInvalid when a model of another type already does.
func claimPrefix(rdb redis.UniversalClient, prefix string, t reflect.Type) error {
	ref, alive, strong, ok := clientRef(rdb)
	if !ok {
		return nil
	}
	k := claimKey{client: ref, prefix: prefix}
	claims.Lock()
	defer claims.Unlock()
	if claims.m == nil {
		claims.m = make(map[claimKey]claim)
	}
	if c, found := claims.m[k]; found {
		if c.typ == t {
			return nil
		}
		return fmt.Errorf("%w: key prefix %q is used on this client by the model of %s already: the model of %s would share its keys; give one of them another Options.Prefix",
			errs.Invalid, prefix, typeName(c.typ), typeName(t))
	}
	if len(claims.m) >= claims.nextSweep {
		sweepClaims()
	}
	if strong {
		if claims.strong >= maxStrongClaims {
			for k := range claims.m {
				if _, weakRef := k.client.(weak.Pointer[byte]); !weakRef {
					delete(claims.m, k)
				}
			}
			claims.strong = 0
		}
		claims.strong++
	}
	claims.m[k] = claim{typ: t, alive: alive}
	return nil
}

// sweepClaims drops the claims of clients that are gone; it runs when the
// map has doubled since the last sweep, so its cost is amortized and the
// map stays within twice the claims of live clients.
func sweepClaims() {
	for k, c := range claims.m {
		if !c.alive() {
			delete(claims.m, k)
		}
	}
	claims.nextSweep = max(64, 2*len(claims.m))
}

// claimCount is the number of claims held, for tests.
func claimCount() int {
	claims.Lock()
	defer claims.Unlock()
	sweepClaims()
	return len(claims.m)
}

func typeName(t reflect.Type) string {
	if t.PkgPath() == "" {
		return t.String()
	}
	return t.PkgPath() + "." + t.Name()
}
