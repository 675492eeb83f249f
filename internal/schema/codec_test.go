package schema_test

import (
	"bytes"
	"errors"
	"math"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // named zones without depending on the host's zoneinfo

	"github.com/google/go-cmp/cmp"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/schema"
)

func scalarCodec[T any](t *testing.T) *schema.Codec {
	t.Helper()
	c, err := schema.ScalarCodec(reflect.TypeFor[T]())
	if err != nil {
		t.Fatalf("ScalarCodec(%v): %v", reflect.TypeFor[T](), err)
	}
	return c
}

func elemCodec[T any](t *testing.T) *schema.Codec {
	t.Helper()
	c, err := schema.ElemCodec(reflect.TypeFor[T]())
	if err != nil {
		t.Fatalf("ElemCodec(%v): %v", reflect.TypeFor[T](), err)
	}
	return c
}

// roundTrip encodes v with c, checks EncodeAny agrees, and decodes the text
// into a fresh T.
func roundTrip[T any](t *testing.T, c *schema.Codec, v T) (string, T) {
	t.Helper()
	s, err := c.Encode(reflect.ValueOf(v))
	if err != nil {
		t.Fatalf("Encode(%#v): %v", v, err)
	}
	s2, err := c.EncodeAny(v)
	if err != nil || s2 != s {
		t.Errorf("EncodeAny(%#v) = %q, %v; Encode gave %q", v, s2, err, s)
	}
	var out T
	if err := c.Decode(s, reflect.ValueOf(&out).Elem()); err != nil {
		t.Fatalf("Decode(%q) of the encoding of %#v: %v", s, v, err)
	}
	return s, out
}

// checkRoundTrip asserts v comes back equal (by cmp, which uses Equal
// methods such as time.Time's) and, when want is not "", that its text is want.
func checkRoundTrip[T any](t *testing.T, c *schema.Codec, v T, want string) {
	t.Helper()
	s, out := roundTrip(t, c, v)
	if want != "" && s != want {
		t.Errorf("Encode(%#v) = %q, want %q", v, s, want)
	}
	if diff := cmp.Diff(v, out); diff != "" {
		t.Errorf("round trip of %#v through %q (-in +out):\n%s", v, s, diff)
	}
}

func TestCodecIntegers(t *testing.T) {
	t.Run("int", func(t *testing.T) {
		c := scalarCodec[int](t)
		for _, v := range []int{0, 1, -1, 42, math.MaxInt, math.MinInt} {
			checkRoundTrip(t, c, v, "")
		}
		checkRoundTrip(t, c, -17, "-17")
	})
	t.Run("int8", func(t *testing.T) {
		c := scalarCodec[int8](t)
		checkRoundTrip(t, c, int8(math.MaxInt8), "127")
		checkRoundTrip(t, c, int8(math.MinInt8), "-128")
	})
	t.Run("int16", func(t *testing.T) {
		c := scalarCodec[int16](t)
		checkRoundTrip(t, c, int16(math.MaxInt16), "32767")
		checkRoundTrip(t, c, int16(math.MinInt16), "-32768")
	})
	t.Run("int32", func(t *testing.T) {
		c := scalarCodec[int32](t)
		checkRoundTrip(t, c, int32(math.MaxInt32), "2147483647")
		checkRoundTrip(t, c, int32(math.MinInt32), "-2147483648")
	})
	t.Run("int64", func(t *testing.T) {
		c := scalarCodec[int64](t)
		checkRoundTrip(t, c, int64(math.MaxInt64), "9223372036854775807")
		checkRoundTrip(t, c, int64(math.MinInt64), "-9223372036854775808")
		checkRoundTrip(t, c, int64(0), "0")
	})
	t.Run("uint", func(t *testing.T) {
		c := scalarCodec[uint](t)
		checkRoundTrip(t, c, uint(math.MaxUint), "18446744073709551615")
		checkRoundTrip(t, c, uint(0), "0")
	})
	t.Run("uint8", func(t *testing.T) {
		checkRoundTrip(t, scalarCodec[uint8](t), uint8(255), "255")
	})
	t.Run("uint16", func(t *testing.T) {
		checkRoundTrip(t, scalarCodec[uint16](t), uint16(math.MaxUint16), "65535")
	})
	t.Run("uint32", func(t *testing.T) {
		checkRoundTrip(t, scalarCodec[uint32](t), uint32(math.MaxUint32), "4294967295")
	})
	t.Run("uint64", func(t *testing.T) {
		c := scalarCodec[uint64](t)
		checkRoundTrip(t, c, uint64(math.MaxUint64), "18446744073709551615")
		checkRoundTrip(t, c, uint64(1)<<63, "9223372036854775808")
	})
	t.Run("duration", func(t *testing.T) {
		c := scalarCodec[time.Duration](t)
		checkRoundTrip(t, c, 1500*time.Millisecond, "1500000000")
		checkRoundTrip(t, c, time.Duration(math.MinInt64), "-9223372036854775808")
		checkRoundTrip(t, c, -time.Nanosecond, "-1")
	})
	t.Run("named", func(t *testing.T) {
		checkRoundTrip(t, scalarCodec[Level](t), Level(-3), "-3")
	})
}

func TestCodecBoolAndString(t *testing.T) {
	b := scalarCodec[bool](t)
	checkRoundTrip(t, b, true, "true")
	checkRoundTrip(t, b, false, "false")
	for text, want := range map[string]bool{"1": true, "0": false, "true": true, "false": false} {
		var got bool
		if err := b.Decode(text, reflect.ValueOf(&got).Elem()); err != nil || got != want {
			t.Errorf("Decode(%q) = %v, %v", text, got, err)
		}
	}

	s := scalarCodec[string](t)
	for _, v := range []string{"", "hello", "with\nnewline", "\x00\xff not utf-8", "ünïcödé", strings.Repeat("x", 1<<16)} {
		checkRoundTrip(t, s, v, v)
	}
	checkRoundTrip(t, scalarCodec[Label](t), Label("named"), "named")
}

func TestCodecFloat64(t *testing.T) {
	c := scalarCodec[float64](t)
	tests := []struct {
		v    float64
		text string
	}{
		{0, "0"},
		{1, "1"},
		{0.1, "0.1"},
		{-2.5, "-2.5"},
		{1.0 / 3, "0.3333333333333333"},
		{math.SmallestNonzeroFloat64, "5e-324"},
		{math.MaxFloat64, "1.7976931348623157e+308"},
		{-math.MaxFloat64, "-1.7976931348623157e+308"},
		{math.Inf(1), "inf"},
		{math.Inf(-1), "-inf"},
		{1e21, "1e+21"},
		{math.Nextafter(1, 2), "1.0000000000000002"},
	}
	for _, tt := range tests {
		s, out := roundTrip(t, c, tt.v)
		if s != tt.text {
			t.Errorf("Encode(%v) = %q, want %q", tt.v, s, tt.text)
		}
		if math.Float64bits(out) != math.Float64bits(tt.v) {
			t.Errorf("%v came back as %v", tt.v, out)
		}
	}

	// Negative zero keeps its sign.
	negZero := math.Copysign(0, -1)
	s, out := roundTrip(t, c, negZero)
	if s != "-0" || out != 0 || !math.Signbit(out) {
		t.Errorf("-0: text %q, back %v signbit %v", s, out, math.Signbit(out))
	}
	_, out = roundTrip(t, c, 0.0)
	if math.Signbit(out) {
		t.Error("+0 came back negative")
	}

	// NaN never equals itself; compare by IsNaN.
	s, out = roundTrip(t, c, math.NaN())
	if s != "nan" || !math.IsNaN(out) {
		t.Errorf("NaN: text %q, back %v", s, out)
	}

	// The spellings Redis itself uses read back too.
	for text, want := range map[string]float64{"inf": math.Inf(1), "-inf": math.Inf(-1), "+inf": math.Inf(1), "1e3": 1000, "-0.5": -0.5} {
		var got float64
		if err := c.Decode(text, reflect.ValueOf(&got).Elem()); err != nil || got != want {
			t.Errorf("Decode(%q) = %v, %v, want %v", text, got, err, want)
		}
	}

	// Named float types share the codec.
	checkRoundTrip(t, scalarCodec[Celsius](t), Celsius(-40.5), "-40.5")
}

func TestCodecFloat32(t *testing.T) {
	c := scalarCodec[float32](t)
	tests := []struct {
		v    float32
		text string // the shortest text at 32 bits, not the float64 widening
	}{
		{0.1, "0.1"},
		{1.0 / 3, "0.33333334"},
		{16777217, "1.6777216e+07"}, // not representable: rounds at 32 bits
		{math.SmallestNonzeroFloat32, "1e-45"},
		{math.MaxFloat32, "3.4028235e+38"},
		{-math.MaxFloat32, "-3.4028235e+38"},
		{float32(math.Inf(1)), "inf"},
		{float32(math.Inf(-1)), "-inf"},
	}
	for _, tt := range tests {
		s, out := roundTrip(t, c, tt.v)
		if s != tt.text {
			t.Errorf("Encode(%v) = %q, want %q", tt.v, s, tt.text)
		}
		if math.Float32bits(out) != math.Float32bits(tt.v) {
			t.Errorf("%v came back as %v", tt.v, out)
		}
	}
	s, out := roundTrip(t, c, float32(math.Copysign(0, -1)))
	if s != "-0" || !math.Signbit(float64(out)) {
		t.Errorf("-0: text %q, back %v", s, out)
	}
	s, out = roundTrip(t, c, float32(math.NaN()))
	if s != "nan" || !math.IsNaN(float64(out)) {
		t.Errorf("NaN: text %q, back %v", s, out)
	}
	// Every float32 round-trips bit for bit; walk a spread of bit patterns.
	for b := uint64(0); b <= math.MaxUint32; b += 1<<20 + 7 {
		bits := uint32(b)
		f := math.Float32frombits(bits)
		if math.IsNaN(float64(f)) {
			continue
		}
		_, out := roundTrip(t, c, f)
		if math.Float32bits(out) != bits {
			t.Fatalf("float32 bits %#x came back as %#x", bits, math.Float32bits(out))
		}
	}
	// A value too big for float32 is refused, not rounded to infinity.
	var f float32
	if err := c.Decode("1e39", reflect.ValueOf(&f).Elem()); !errors.Is(err, errs.Corrupt) {
		t.Errorf("Decode(1e39) into float32: %v, %v", f, err)
	}
}

func TestCodecBytes(t *testing.T) {
	c := scalarCodec[[]byte](t)
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for _, v := range [][]byte{{}, []byte("text"), all, {0}, {0xff, 0xfe, 0}, bytes.Repeat([]byte{0x80}, 1000)} {
		s, out := roundTrip(t, c, v)
		if s != string(v) {
			t.Errorf("Encode(%x) = %x, want the raw bytes", v, s)
		}
		if !bytes.Equal(out, v) {
			t.Errorf("round trip of %x gave %x", v, out)
		}
		if out == nil {
			t.Errorf("%x came back nil", v)
		}
	}
	// nil and empty share the text "", which decodes to an empty, non-nil
	// slice: the storage cannot tell them apart.
	s, out := roundTrip(t, c, []byte(nil))
	if s != "" || out == nil || len(out) != 0 {
		t.Errorf("nil: text %q, back %#v", s, out)
	}
	// Decode does not alias the string's memory across calls.
	var a, b []byte
	_ = c.Decode("aaaa", reflect.ValueOf(&a).Elem())
	_ = c.Decode("bbbb", reflect.ValueOf(&b).Elem())
	if string(a) != "aaaa" || string(b) != "bbbb" {
		t.Errorf("a %q, b %q", a, b)
	}

	checkRoundTrip(t, scalarCodec[Blob](t), Blob("\x00named\xff"), "\x00named\xff")
}

// A byte slice whose element is a named byte type is a Bytes scalar too.
type Octet uint8

func TestCodecNamedByteElement(t *testing.T) {
	c := scalarCodec[[]Octet](t)
	if c.Kind != schema.Bytes {
		t.Fatalf("Kind = %v", c.Kind)
	}
	checkRoundTrip(t, c, []Octet{0, 1, 0xff}, "\x00\x01\xff")
	var out []Octet
	if err := c.Decode("", reflect.ValueOf(&out).Elem()); err != nil || out == nil || len(out) != 0 {
		t.Errorf("Decode(\"\") = %#v, %v", out, err)
	}
}

func TestCodecTime(t *testing.T) {
	c := scalarCodec[time.Time](t)

	utc := time.Date(2024, 2, 29, 23, 59, 59, 123456789, time.UTC)
	checkRoundTrip(t, c, utc, "2024-02-29T23:59:59.123456789Z")
	checkRoundTrip(t, c, time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), "2024-01-02T03:04:05Z")
	checkRoundTrip(t, c, time.Time{}, "0001-01-01T00:00:00Z")
	checkRoundTrip(t, c, time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), "0000-01-01T00:00:00Z")
	checkRoundTrip(t, c, time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), "9999-12-31T23:59:59.999999999Z")

	// A monotonic clock reading is dropped; the instant survives.
	now := time.Now()
	_, back := roundTrip(t, c, now)
	if !back.Equal(now) {
		t.Errorf("now: %v came back as %v", now, back)
	}

	// Zones. The text carries the instant and the offset, not the
	// Location: a value in "Asia/Kolkata" or time.FixedZone("XST", ...) comes
	// back in a fixed zone with the same offset and no name ("" from
	// Location().String(), and Zone() reports no abbreviation), unless the
	// offset is that of time.Local at that instant, in which case time.Parse
	// puts it in time.Local.
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		t.Fatal(err)
	}
	newYork, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	zoned := []time.Time{
		time.Date(2024, 7, 1, 12, 30, 0, 500, kolkata),                            // +05:30
		time.Date(2024, 7, 1, 12, 30, 0, 0, newYork),                              // -04:00 (summer)
		time.Date(2024, 1, 1, 12, 30, 0, 0, newYork),                              // -05:00 (winter)
		time.Date(2024, 7, 1, 0, 0, 0, 0, time.FixedZone("XST", 13*3600+45*60)),   // +13:45
		time.Date(2024, 7, 1, 0, 0, 0, 0, time.FixedZone("YST", -(9*3600+30*60))), // -09:30
		time.Date(2024, 7, 1, 0, 0, 0, 0, time.FixedZone("ZERO", 0)),              // written "Z"
	}
	for _, v := range zoned {
		s, back := roundTrip(t, c, v)
		_, inOff := v.Zone()
		backName, backOff := back.Zone()
		if !back.Equal(v) {
			t.Errorf("%v: the instant changed: %q gave %v", v, s, back)
		}
		if backOff != inOff {
			t.Errorf("%v: offset %d came back as %d (%q)", v, inOff, backOff, s)
		}
		if back.Nanosecond() != v.Nanosecond() || back.Hour() != v.Hour() || back.Minute() != v.Minute() {
			t.Errorf("%v: wall clock changed: %v", v, back)
		}
		if back.Location() == v.Location() {
			t.Errorf("%v: expected the Location not to survive, but it did", v)
		}
		switch {
		case inOff == 0:
			// Offset zero is written "Z" and read back as time.UTC.
			if back.Location() != time.UTC {
				t.Errorf("%v: offset 0 came back in %v, want UTC", v, back.Location())
			}
		case back.Location() == time.Local:
		case back.Location().String() != "" || backName != "":
			t.Errorf("%v: came back in the named zone %q/%q", v, back.Location(), backName)
		}
	}
}

// RFC 3339 text holds only years 0000..9999 and offsets in whole minutes
// under 24 hours. Such values must not be written as text that reads back
// as another instant or not at all.
func TestCodecTimeOutOfRFC3339(t *testing.T) {
	c := scalarCodec[time.Time](t)

	// Offsets RFC 3339 cannot write are written in UTC: the instant survives.
	for _, v := range []time.Time{
		time.Date(2020, 1, 1, 0, 0, 0, 0, time.FixedZone("SEC", 3600+30)),
		time.Date(2020, 1, 1, 0, 0, 0, 0, time.FixedZone("NEG", -(3600+1))),
		time.Date(2020, 1, 1, 0, 0, 0, 0, time.FixedZone("BIG", 25*3600)),
		time.Date(2020, 1, 1, 0, 0, 0, 0, time.FixedZone("BIGNEG", -24*3600)),
	} {
		s, back := roundTrip(t, c, v)
		if !back.Equal(v) {
			t.Errorf("%v: the instant changed: %q gave %v", v, s, back)
		}
	}
	// Historical local mean time has second offsets (Amsterdam: +00:19:32).
	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	v := time.Date(1900, 6, 1, 12, 0, 0, 0, ams)
	if _, back := roundTrip(t, c, v); !back.Equal(v) {
		t.Errorf("%v came back as %v", v, back)
	}

	// The year is that of the wall clock in the value's own offset.
	checkRoundTrip(t, c, time.Date(9999, 12, 31, 23, 30, 0, 0, time.FixedZone("W", -3600)), "9999-12-31T23:30:00-01:00")

	// Years RFC 3339 cannot write are refused when encoding.
	for _, v := range []time.Time{
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 12, 31, 0, 0, 0, 0, time.UTC),
		// Written in UTC for its offset of odd seconds, it is in year 10000.
		time.Date(9999, 12, 31, 23, 30, 0, 0, time.FixedZone("W", -3600-1)),
	} {
		s, err := c.Encode(reflect.ValueOf(v))
		if !errors.Is(err, errs.Invalid) {
			t.Errorf("Encode(%v) = %q, %v, want errs.Invalid", v, s, err)
		}
	}
}

func TestCodecText(t *testing.T) {
	c := scalarCodec[netip.Addr](t)
	if c.Kind != schema.Text {
		t.Fatalf("Kind = %v", c.Kind)
	}
	for _, v := range []netip.Addr{
		netip.MustParseAddr("192.0.2.1"),
		netip.MustParseAddr("2001:db8::1"),
		netip.MustParseAddr("fe80::1%eth0"),
		netip.MustParseAddr("::ffff:10.0.0.1"),
		{},
	} {
		s, out := roundTrip(t, c, v)
		if out != v {
			t.Errorf("%v came back as %v (%q)", v, out, s)
		}
	}
	p := scalarCodec[netip.Prefix](t)
	for _, v := range []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")} {
		s, out := roundTrip(t, p, v)
		if out != v || s != v.String() {
			t.Errorf("%v came back as %v (%q)", v, out, s)
		}
	}
}

func TestCodecJSON(t *testing.T) {
	type Inner struct {
		N    int
		Tags []string
	}
	c := elemCodec[Inner](t)
	if c.Kind != schema.JSON {
		t.Fatalf("Kind = %v", c.Kind)
	}
	checkRoundTrip(t, c, Inner{N: 3, Tags: []string{"a", "b"}}, `{"N":3,"Tags":["a","b"]}`)
	checkRoundTrip(t, c, Inner{}, `{"N":0,"Tags":null}`)

	pc := elemCodec[*Inner](t)
	checkRoundTrip(t, pc, &Inner{N: -1}, `{"N":-1,"Tags":null}`)
	checkRoundTrip[*Inner](t, pc, nil, "null")

	mc := elemCodec[map[string][]int](t)
	checkRoundTrip(t, mc, map[string][]int{"b": {2}, "a": {1}}, `{"a":[1],"b":[2]}`)

	ac := elemCodec[[2]float64](t)
	checkRoundTrip(t, ac, [2]float64{0.1, -1e300}, "[0.1,-1e+300]")

	// Scalars keep the scalar encoding as elements.
	if c := elemCodec[int](t); c.Kind != schema.Int {
		t.Errorf("int element: %v", c.Kind)
	}

	for _, bad := range []reflect.Type{
		reflect.TypeFor[chan int](),
		reflect.TypeFor[func()](),
		reflect.TypeFor[complex128](),
		reflect.TypeFor[any](),
		reflect.TypeFor[*int](),
		reflect.TypeFor[struct{ C chan int }](),
		reflect.TypeFor[[]complex64](),
		reflect.TypeFor[map[string]any](),
	} {
		if _, err := schema.ElemCodec(bad); !errors.Is(err, errs.Unsupported) {
			t.Errorf("ElemCodec(%v) = %v, want errs.Unsupported", bad, err)
		}
	}
	// A field hidden from JSON does not matter.
	if _, err := schema.ElemCodec(reflect.TypeFor[struct {
		N int
		C chan int `json:"-"`
	}]()); err != nil {
		t.Errorf("json:\"-\" chan: %v", err)
	}
}

func TestScalarCodecRefusals(t *testing.T) {
	for _, bad := range []reflect.Type{
		reflect.TypeFor[chan int](),
		reflect.TypeFor[complex64](),
		reflect.TypeFor[[]int](),
		reflect.TypeFor[map[string]int](),
		reflect.TypeFor[struct{ X int }](),
		reflect.TypeFor[*int](),
		reflect.TypeFor[any](),
		reflect.TypeFor[[4]byte](),
	} {
		if c, err := schema.ScalarCodec(bad); !errors.Is(err, errs.Unsupported) {
			t.Errorf("ScalarCodec(%v) = %+v, %v, want errs.Unsupported", bad, c, err)
		}
	}
}

func TestDecodeCorrupt(t *testing.T) {
	type Inner struct{ N int }
	tests := []struct {
		name string
		c    *schema.Codec
		text string
	}{
		{"letters into int", scalarCodec[int](t), "abc"},
		{"empty into int", scalarCodec[int](t), ""},
		{"float into int", scalarCodec[int](t), "1.5"},
		{"space into int", scalarCodec[int](t), " 1"},
		{"300 into int8", scalarCodec[int8](t), "300"},
		{"-129 into int8", scalarCodec[int8](t), "-129"},
		{"past int64", scalarCodec[int64](t), "9223372036854775808"},
		{"negative into uint", scalarCodec[uint](t), "-1"},
		{"256 into uint8", scalarCodec[uint8](t), "256"},
		{"past uint64", scalarCodec[uint64](t), "18446744073709551616"},
		{"x into bool", scalarCodec[bool](t), "x"},
		{"TRUE into bool", scalarCodec[bool](t), "TRUE"},
		{"empty into bool", scalarCodec[bool](t), ""},
		{"letters into float", scalarCodec[float64](t), "one"},
		{"past float64", scalarCodec[float64](t), "1e309"},
		{"past float32", scalarCodec[float32](t), "1e39"},
		{"bad time", scalarCodec[time.Time](t), "yesterday"},
		{"date only", scalarCodec[time.Time](t), "2024-01-01"},
		{"bad duration", scalarCodec[time.Duration](t), "1s"},
		{"bad addr", scalarCodec[netip.Addr](t), "999.1.1.1"},
		{"bad JSON", elemCodec[Inner](t), `{"N":`},
		{"wrong JSON type", elemCodec[Inner](t), `{"N":"x"}`},
		{"JSON array for struct", elemCodec[Inner](t), `[1]`},
		{"not JSON", elemCodec[[]int](t), `hello`},
		{"long garbage int", scalarCodec[int](t), strings.Repeat("z", 5000)},
		{"long garbage uint", scalarCodec[uint16](t), strings.Repeat("9", 5000)},
		{"long garbage float", scalarCodec[float32](t), strings.Repeat("z", 5000)},
		{"long garbage time", scalarCodec[time.Time](t), strings.Repeat("z", 5000)},
		{"long garbage addr", scalarCodec[netip.Addr](t), strings.Repeat("z", 5000)},
		{"long garbage JSON", elemCodec[Inner](t), `{"N":"` + strings.Repeat("z", 5000) + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := reflect.New(tt.c.Type).Elem()
			err := tt.c.Decode(tt.text, v)
			if !errors.Is(err, errs.Corrupt) {
				t.Fatalf("Decode(%q) into %v = %v, want errs.Corrupt", tt.text, tt.c.Type, err)
			}
			if len(err.Error()) > 500 {
				t.Errorf("message is %d bytes long: the value should be clipped", len(err.Error()))
			}
			if !v.IsZero() {
				t.Errorf("a failed Decode changed the value: %v", v)
			}
		})
	}
}

// codecsUnderTest are the codecs FuzzDecode feeds, one of every kind.
func codecsUnderTest(t testing.TB) []*schema.Codec {
	type Elem struct {
		A string
		B []int
		C map[string]float64
		D *Elem
		T time.Time
	}
	var out []*schema.Codec
	for _, typ := range []reflect.Type{
		reflect.TypeFor[string](), reflect.TypeFor[Label](), reflect.TypeFor[bool](),
		reflect.TypeFor[int](), reflect.TypeFor[int8](), reflect.TypeFor[int16](), reflect.TypeFor[int32](), reflect.TypeFor[int64](),
		reflect.TypeFor[uint](), reflect.TypeFor[uint8](), reflect.TypeFor[uint16](), reflect.TypeFor[uint32](), reflect.TypeFor[uint64](),
		reflect.TypeFor[float32](), reflect.TypeFor[float64](), reflect.TypeFor[Celsius](),
		reflect.TypeFor[[]byte](), reflect.TypeFor[Blob](), reflect.TypeFor[[]Octet](),
		reflect.TypeFor[time.Time](), reflect.TypeFor[time.Duration](),
		reflect.TypeFor[netip.Addr](), reflect.TypeFor[netip.AddrPort](), reflect.TypeFor[netip.Prefix](),
	} {
		c, err := schema.ScalarCodec(typ)
		if err != nil {
			t.Fatalf("ScalarCodec(%v): %v", typ, err)
		}
		out = append(out, c)
	}
	for _, typ := range []reflect.Type{
		reflect.TypeFor[Elem](), reflect.TypeFor[*Elem](), reflect.TypeFor[[]string](),
		reflect.TypeFor[map[string]int](), reflect.TypeFor[[3]uint8](), reflect.TypeFor[map[int]bool](),
	} {
		c, err := schema.ElemCodec(typ)
		if err != nil {
			t.Fatalf("ElemCodec(%v): %v", typ, err)
		}
		if c.Kind != schema.JSON {
			t.Fatalf("ElemCodec(%v) kind %v", typ, c.Kind)
		}
		out = append(out, c)
	}
	return out
}

// FuzzDecode feeds arbitrary text to every codec. Decode must never panic,
// must report failure only with errs.Corrupt, and whatever it accepts must
// encode to a text that decodes to the same encoding again (the encoding of
// a decoded value is a fixed point). DecodeAt must agree with Decode.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		"", "0", "-0", "1", "-1", "true", "false", "x", "abc", "300", "-129", "255", "256",
		"9223372036854775807", "-9223372036854775808", "18446744073709551615", "18446744073709551616",
		"1.5", "1e308", "1e309", "5e-324", "1e-400", "inf", "-inf", "nan", "NaN", "+Inf", "0x1p-2", "1_000",
		"2024-02-29T23:59:59.123456789Z", "2024-01-01T00:00:00+05:30", "0000-01-01T00:00:00Z", "2024-13-01T00:00:00Z",
		"192.0.2.1", "::1", "fe80::1%eth0", "[::1]:80", "10.0.0.0/8",
		`{"A":"x","B":[1,2],"C":{"k":1.5},"D":{"A":"y"},"T":"2024-01-01T00:00:00Z"}`, `{"A":`, "null", "[]", "[1,2,3]", `{"1":true}`,
		"\x00\xff\xfe", "\xc3\x28", strings.Repeat("9", 100),
	} {
		f.Add(seed)
	}
	codecs := codecsUnderTest(f)
	f.Fuzz(func(t *testing.T, s string) {
		for _, c := range codecs {
			v := reflect.New(c.Type).Elem()
			err := c.Decode(s, v)
			// DecodeAt, compiled or not, must agree.
			at := reflect.New(c.Type)
			if atErr := c.DecodeAt(s, at.UnsafePointer()); errText(atErr) != errText(err) {
				t.Fatalf("DecodeAt(%q) into %v: %v; Decode gave %v", s, c.Type, atErr, err)
			}
			if !cmp.Equal(v.Interface(), at.Elem().Interface(), identical) {
				t.Fatalf("DecodeAt(%q) into %v differs from Decode (-Decode +DecodeAt):\n%s", s, c.Type,
					cmp.Diff(v.Interface(), at.Elem().Interface(), identical))
			}
			if err != nil {
				if !errors.Is(err, errs.Corrupt) {
					t.Fatalf("Decode(%q) into %v: %v, want errs.Corrupt", s, c.Type, err)
				}
				continue
			}
			enc, err := c.Encode(v)
			if err != nil {
				// Time accepts year 0..9999 only, as Decode does; JSON
				// may hold a time.Time in a nested field with a year
				// Decode took but Encode cannot write.
				if c.Kind == schema.JSON && errors.Is(err, errs.Invalid) {
					continue
				}
				t.Fatalf("Decode(%q) into %v gave %v, which does not encode: %v", s, c.Type, v, err)
			}
			w := reflect.New(c.Type).Elem()
			if err := c.Decode(enc, w); err != nil {
				t.Fatalf("%v: %q decoded, encoded as %q, which does not decode: %v", c.Type, s, enc, err)
			}
			enc2, err := c.Encode(w)
			if err != nil || enc2 != enc {
				t.Fatalf("%v: %q -> %q -> %q, %v: the encoding is not stable", c.Type, s, enc, enc2, err)
			}
		}
	})
}
