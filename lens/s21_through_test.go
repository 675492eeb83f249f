package lens_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rapyer-go/rapyer/lens"
)

var (
	lProfAddr = lens.Of(func(p *Profile) **Address { return &p.Address })
	lAddrGeo  = lens.Of(func(a *Address) **Geo { return &a.Geo })
	lGeoLng   = lens.Of(func(g *Geo) *float64 { return &g.Lng })
	lProfBio  = lens.Of(func(p *Profile) *string { return &p.Bio })
)

// TestThroughIsTheFieldOfThePathThroughThePointer: Through of a pointer
// field and a field of its struct names, prints and reads what Of of the
// whole path does, one pointer deep, two and three (Through of Through).
func TestThroughIsTheFieldOfThePathThroughThePointer(t *testing.T) {
	bio := lens.Through(lProfile, lProfBio)
	lng := lens.Through(lens.Through(lens.Through(lProfile, lProfAddr), lAddrGeo), lGeoLng)
	city := lens.Through(lens.Through(lProfile, lProfAddr), lAddrCity)
	cases := []struct {
		got, want described
	}{
		{bio, lBio},
		{lng, lPLng},
		{city, lPCity},
	}
	for _, c := range cases {
		if c.got.Path() != c.want.Path() || c.got.String() != c.want.String() || !c.got.Valid() {
			t.Errorf("Through: %q (%s), want %q (%s)", c.got.Path(), c.got, c.want.Path(), c.want)
		}
	}
	u := User{Profile: &Profile{Bio: "hi", Address: &Address{City: "Oslo", Geo: &Geo{Lng: 10.7}}}}
	if bio.Get(u) != "hi" || lng.Get(u) != 10.7 || city.Get(u) != "Oslo" {
		t.Fatalf("Get: %q %v %q", bio.Get(u), lng.Get(u), city.Get(u))
	}
}

// TestThroughKeepsTheLawsOnNilAndSetPointers: get-set, set-get and
// set-set hold whether the pointers on the way are nil or not; Get through
// nil is the zero; Set allocates a nil pointer and copies a set one, so
// the original is never written through.
func TestThroughKeepsTheLawsOnNilAndSetPointers(t *testing.T) {
	lng := lens.Through(lens.Through(lens.Through(lProfile, lProfAddr), lAddrGeo), lGeoLng)
	bio := lens.Through(lProfile, lProfBio)
	set := func() User {
		return User{Name: "ann", Profile: &Profile{Bio: "b", Address: &Address{City: "c", Geo: &Geo{Lat: 1, Lng: 2}}}}
	}
	for name, mk := range map[string]func() User{
		"nil":         func() User { return User{Name: "ann"} },
		"nil in half": func() User { return User{Profile: &Profile{Bio: "b"}} },
		"set":         set,
	} {
		s := mk()
		keep := mk()
		// get-set: setting what is there changes nothing but allocation
		if got := lng.Get(lng.Set(s, lng.Get(s))); got != lng.Get(s) {
			t.Errorf("%s: get-set: %v", name, got)
		}
		// set-get
		if got := lng.Get(lng.Set(s, 7.5)); got != 7.5 {
			t.Errorf("%s: set-get: %v", name, got)
		}
		if got := bio.Get(bio.Set(s, "new")); got != "new" {
			t.Errorf("%s: set-get bio: %q", name, got)
		}
		// set-set
		if d := cmp.Diff(lng.Set(lng.Set(s, 1), 9), lng.Set(s, 9), userOpts); d != "" {
			t.Errorf("%s: set-set:\n%s", name, d)
		}
		if d := cmp.Diff(keep, s, userOpts); d != "" {
			t.Errorf("%s: Set wrote through a pointer of the original:\n%s", name, d)
		}
	}
	var zero User
	if lng.Get(zero) != 0 || bio.Get(zero) != "" {
		t.Fatal("Get through a nil pointer is not the zero")
	}
	got := lng.Set(zero, 3)
	if got.Profile == nil || got.Profile.Address == nil || got.Profile.Address.Geo == nil || got.Profile.Address.Geo.Lng != 3 || zero.Profile != nil {
		t.Fatalf("Set through nil pointers: %+v", got)
	}
	// the other fields of a set struct are kept
	s := set()
	got = lng.Set(s, 4)
	if got.Profile.Bio != "b" || got.Profile.Address.City != "c" || got.Profile.Address.Geo.Lat != 1 || s.Profile.Address.Geo.Lng != 2 {
		t.Fatalf("Set through set pointers: %+v / original %+v", got.Profile.Address.Geo, s.Profile.Address.Geo)
	}
}

// TestThroughOfAnInvalidFieldIsInvalid: either field invalid (the zero
// Field), or a pointer to a struct stored as text, gives the invalid
// Field, which reads the zero and sets nothing.
func TestThroughOfAnInvalidFieldIsInvalid(t *testing.T) {
	cases := map[string]interface{ Valid() bool }{
		"outer": lens.Through(lens.Field[User, *Profile]{}, lProfBio),
		"inner": lens.Through(lProfile, lens.Field[Profile, string]{}),
		"both":  lens.Through(lens.Field[User, *Profile]{}, lens.Field[Profile, string]{}),
		"text":  lens.Through(lens.Of(func(s *Shape) **Point { return &s.Corner }), lens.Of(func(p *Point) *int { return &p.X })),
	}
	for name, f := range cases {
		if f.Valid() {
			t.Errorf("%s: Through gave a valid Field", name)
		}
	}
	f := lens.Through(lens.Field[User, *Profile]{}, lProfBio)
	u := User{Profile: &Profile{Bio: "b"}}
	if f.Get(u) != "" || f.Path() != "" {
		t.Fatalf("the invalid Field reads %q at %q", f.Get(u), f.Path())
	}
	if d := cmp.Diff(u, f.Set(u, "x"), userOpts); d != "" {
		t.Fatalf("the invalid Field set:\n%s", d)
	}
}
