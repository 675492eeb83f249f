package testenv

import (
	"math"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"time"
)

// Random returns a random value of type t, for tests that compare two
// implementations on many values: extremes of every number kind, NaN,
// infinities and -0 now and then, strings with multi-byte and (rarely)
// invalid UTF-8, nil and empty slices and maps beside full ones, nil
// pointers, times in odd zones and (rarely) outside years 0..9999, and
// netip.Addr values. Unexported struct fields and interfaces stay zero.
func Random(r *rand.Rand, t reflect.Type) reflect.Value {
	v := reflect.New(t).Elem()
	fill(r, v, 0)
	return v
}

var (
	timeType = reflect.TypeFor[time.Time]()
	addrType = reflect.TypeFor[netip.Addr]()
	zones    = []*time.Location{
		time.UTC, time.FixedZone("", 5*3600+1800), time.FixedZone("", -7*3600),
		time.FixedZone("LMT", 3600+17), // an offset of odd seconds, written in UTC
	}
	runes = []rune("abcxyz019 -_.:é日\u00a0")
	strs  = []string{"", "a", "b c", "é", "日本", "tag-1", "0", "-1", "true", "1.5", ":", "{x}", "\x00"}
)

// rare reports true about once in n calls.
func rare(r *rand.Rand, n int) bool { return r.IntN(n) == 0 }

func fill(r *rand.Rand, v reflect.Value, depth int) {
	t := v.Type()
	if fillSpecial(r, v) {
		return
	}
	switch t.Kind() {
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		fillNumber(r, v)
	case reflect.String:
		v.SetString(randomString(r))
	case reflect.Pointer:
		if depth > 4 || rare(r, 3) {
			return
		}
		p := reflect.New(t.Elem())
		fill(r, p.Elem(), depth+1)
		v.Set(p)
	case reflect.Struct:
		for i := range t.NumField() {
			if t.Field(i).IsExported() {
				fill(r, v.Field(i), depth+1)
			}
		}
	case reflect.Array:
		for i := range v.Len() {
			fill(r, v.Index(i), depth+1)
		}
	case reflect.Slice, reflect.Map:
		fillCollection(r, v, depth)
	}
}

// fillSpecial fills the types with their own values (times, addresses) and
// reports whether v was one.
func fillSpecial(r *rand.Rand, v reflect.Value) bool {
	switch v.Type() {
	case timeType:
		if rare(r, 8) {
			return true // the zero time
		}
		tm := time.Unix(r.Int64N(1<<34)-(1<<33), r.Int64N(1e9)).In(zones[r.IntN(len(zones))])
		if rare(r, 60) {
			tm = tm.AddDate(10000, 0, 0) // a year RFC 3339 cannot write
		}
		v.Set(reflect.ValueOf(tm))
		return true
	case addrType:
		switch r.IntN(3) {
		case 0: // the zero Addr
		case 1:
			v.Set(reflect.ValueOf(netip.AddrFrom4([4]byte{10, byte(r.IntN(256)), 0, byte(r.IntN(256))})))
		default:
			v.Set(reflect.ValueOf(netip.AddrFrom16([16]byte{0: 0xfe, 1: 0x80, 15: byte(r.IntN(256))})))
		}
		return true
	}
	return false
}

// fillNumber fills a number with an edge of its range, a small value or
// any value.
func fillNumber(r *rand.Rand, v reflect.Value) {
	t := v.Type()
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		bits := t.Bits()
		switch r.IntN(5) {
		case 0:
			v.SetInt(-1 << (bits - 1))
		case 1:
			v.SetInt(1<<(bits-1) - 1)
		case 2:
			v.SetInt(int64(r.IntN(200) - 100))
		default:
			v.SetInt(r.Int64() >> (64 - bits))
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		bits := t.Bits()
		switch r.IntN(4) {
		case 0:
			v.SetUint(math.MaxUint64 >> (64 - bits))
		case 1:
			v.SetUint(uint64(r.IntN(200)))
		default:
			v.SetUint(r.Uint64() >> (64 - bits))
		}
	case reflect.Float32, reflect.Float64:
		specials := []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), 0, 0.1, 1e300, 5e-324}
		f := r.NormFloat64() * math.Pow(10, float64(r.IntN(20)-10))
		if rare(r, 10) {
			f = specials[r.IntN(len(specials))]
		}
		v.SetFloat(f)
	}
}

// fillCollection fills a slice or a map: nil, empty, or a few elements.
func fillCollection(r *rand.Rand, v reflect.Value, depth int) {
	t := v.Type()
	switch t.Kind() {
	case reflect.Slice:
		switch n := r.IntN(8); {
		case depth > 4 || n == 0: // nil
		case n == 1:
			v.Set(reflect.MakeSlice(t, 0, r.IntN(3)))
		default:
			s := reflect.MakeSlice(t, n-1, n-1)
			for i := range n - 1 {
				fill(r, s.Index(i), depth+1)
			}
			v.Set(s)
		}
	case reflect.Map:
		switch n := r.IntN(8); {
		case depth > 4 || n == 0: // nil
		case n == 1:
			v.Set(reflect.MakeMap(t))
		default:
			m := reflect.MakeMap(t)
			for range n - 1 {
				k, e := reflect.New(t.Key()).Elem(), reflect.New(t.Elem()).Elem()
				fill(r, k, depth+1)
				fill(r, e, depth+1)
				m.SetMapIndex(k, e)
			}
			v.Set(m)
		}
	}
}

func randomString(r *rand.Rand) string {
	if rare(r, 60) {
		return "bad\xffutf8"
	}
	if r.IntN(2) == 0 {
		return strs[r.IntN(len(strs))]
	}
	b := make([]rune, r.IntN(12))
	for i := range b {
		b[i] = runes[r.IntN(len(runes))]
	}
	return string(b)
}
