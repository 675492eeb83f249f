package lens_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rapyer-go/rapyer/lens"
)

// The lens laws, checked by fuzzing. The seed corpora below run on every
// `go test`; `go test -fuzz=FuzzLensLawsPointer ./lens` explores further.
//
//	get-after-set: Get(Set(s, a)) == a
//	set-after-get: Set(s, Get(s)) == s
//	set-twice:     Set(Set(s, a), b) == Set(s, b)
//
// A pointer to a struct distinguishes "absent" (nil) from "present and zero",
// and Set allocates a nil pointer on its path. So on a value whose path holds
// a nil pointer, set-after-get yields the same value with that pointer
// allocated: the law holds up to the equivalence "nil pointer to a struct ==
// pointer to the zero struct", which is what normalize below applies. With no
// nil pointer on the path, every law holds exactly. (No choice of behaviour
// for Set on a nil path could make all three laws hold exactly: leaving
// nil in place for a zero value would break set-twice instead.)

// fuzzUser builds a model from fuzz inputs, with or without the pointers on
// the lens paths.
func fuzzUser(name string, age int, city string, hasProfile, hasAddress bool, pcity string, no int) User {
	u := User{
		Name: name,
		Age:  age,
		Home: Address{City: city, Street: Street{Name: city + "st", No: no}},
		Tags: []string{name},
	}
	if hasProfile {
		u.Profile = &Profile{Bio: name + city}
		if hasAddress {
			u.Profile.Address = &Address{City: pcity, Zip: name, Street: Street{Name: pcity, No: no + 1}}
		}
	}
	return u
}

// normalize allocates every nil pointer to a struct on the paths under test,
// so that a value and the same value with those pointers allocated compare
// equal.
func normalize(u User) User {
	u = deepCopy(u)
	if u.Profile == nil {
		u.Profile = &Profile{}
	}
	if u.Profile.Address == nil {
		u.Profile.Address = &Address{}
	}
	return u
}

func checkLaws[A any](t *testing.T, f lens.Field[User, A], s User, a, b A) {
	t.Helper()
	before := deepCopy(s)

	// get-after-set
	if diff := cmp.Diff(a, f.Get(f.Set(s, a))); diff != "" {
		t.Errorf("%v: Get(Set(s, a)) != a (-a +got):\n%s", f, diff)
	}
	if diff := cmp.Diff(b, f.Get(f.Set(f.Set(s, a), b))); diff != "" {
		t.Errorf("%v: Get(Set(Set(s, a), b)) != b (-b +got):\n%s", f, diff)
	}

	// set-after-get
	same := f.Set(s, f.Get(s))
	if nilOnPath(f, s) {
		if diff := cmp.Diff(normalize(s), normalize(same), userOpts); diff != "" {
			t.Errorf("%v: Set(s, Get(s)) != s up to nil pointers (-s +got):\n%s", f, diff)
		}
	} else if diff := cmp.Diff(s, same, userOpts); diff != "" {
		t.Errorf("%v: Set(s, Get(s)) != s (-s +got):\n%s", f, diff)
	}

	// set-twice: exact even through nil pointers, since both sides allocate.
	if diff := cmp.Diff(f.Set(s, b), f.Set(f.Set(s, a), b), userOpts); diff != "" {
		t.Errorf("%v: Set(Set(s, a), b) != Set(s, b) (-want +got):\n%s", f, diff)
	}

	// Modify is Set of a function of Get.
	if diff := cmp.Diff(f.Set(s, a), f.Modify(s, func(A) A { return a }), userOpts); diff != "" {
		t.Errorf("%v: Modify(s, const a) != Set(s, a):\n%s", f, diff)
	}

	// None of this changed s, nor anything s points to.
	if diff := cmp.Diff(before, s, userOpts); diff != "" {
		t.Errorf("%v: the laws' calls changed s (-before +after):\n%s", f, diff)
	}
}

// nilOnPath reports whether a nil pointer lies on f's path in s: then Get
// gives the zero value whatever the rest of s holds.
func nilOnPath[A any](f lens.Field[User, A], s User) bool {
	switch {
	case len(f.Names()) >= 2 && f.Names()[0] == "profile":
		return s.Profile == nil || (len(f.Names()) >= 3 && f.Names()[1] == "address" && s.Profile.Address == nil)
	case len(f.Names()) >= 3 && f.Names()[0] == "home" && f.Names()[1] == "geo":
		return s.Home.Geo == nil
	}
	return false
}

func FuzzLensLawsInt(f *testing.F) {
	f.Add("ada", 36, "London", true, true, "Paris", 221, 1, 2)
	f.Add("", 0, "", false, false, "", 0, 0, 0)
	f.Add("x", -1, "y", true, false, "z", -5, int(^uint(0)>>1), -int(^uint(0)>>1)-1)
	f.Fuzz(func(t *testing.T, name string, age int, city string, hasProfile, hasAddress bool, pcity string, no, a, b int) {
		s := fuzzUser(name, age, city, hasProfile, hasAddress, pcity, no)
		checkLaws(t, lAge, s, a, b)
		checkLaws(t, lStreetNo, s, a, b)
	})
}

func FuzzLensLawsString(f *testing.F) {
	f.Add("ada", 36, "London", true, true, "Paris", 221, "a", "b")
	f.Add("", 0, "", false, false, "", 0, "", "")
	f.Add("é", 1, "\x00", true, false, "\xff", 3, "same", "same")
	f.Fuzz(func(t *testing.T, name string, age int, city string, hasProfile, hasAddress bool, pcity string, no int, a, b string) {
		s := fuzzUser(name, age, city, hasProfile, hasAddress, pcity, no)
		checkLaws(t, lName, s, a, b)
		checkLaws(t, lCity, s, a, b)
	})
}

// A field behind one and two pointers to structs, each present or nil.
func FuzzLensLawsPointer(f *testing.F) {
	f.Add("ada", 36, "London", true, true, "Paris", 221, "a", "b")
	f.Add("ada", 36, "London", true, false, "Paris", 221, "a", "b")
	f.Add("ada", 36, "London", false, false, "Paris", 221, "a", "b")
	f.Add("", 0, "", false, true, "", 0, "", "")
	f.Add("", 0, "", true, true, "", 0, "", "x")
	f.Fuzz(func(t *testing.T, name string, age int, city string, hasProfile, hasAddress bool, pcity string, no int, a, b string) {
		s := fuzzUser(name, age, city, hasProfile, hasAddress, pcity, no)
		checkLaws(t, lBio, s, a, b)
		checkLaws(t, lPCity, s, a, b)
	})
}

// Composed fields: one through plain nested structs, one whose outer lens
// crosses two pointers.
func FuzzLensLawsComposed(f *testing.F) {
	f.Add("ada", 36, "London", true, true, "Paris", 221, "a", "b", 1, 2)
	f.Add("ada", 36, "London", true, false, "Paris", 221, "a", "b", 0, 0)
	f.Add("", 0, "", false, false, "", 0, "", "", -1, 1)
	homeStreetName := lens.Compose(lens.Compose(lHome, lAddrStreet), lStreetName)
	profileStreet := lens.Of(func(u *User) *Street { return &u.Profile.Address.Street })
	profileStreetNo := lens.Compose(profileStreet, lens.Of(func(s *Street) *int { return &s.No }))
	f.Fuzz(func(t *testing.T, name string, age int, city string, hasProfile, hasAddress bool, pcity string, no int, a, b string, n, m int) {
		s := fuzzUser(name, age, city, hasProfile, hasAddress, pcity, no)
		checkLaws(t, homeStreetName, s, a, b)
		checkLaws(t, profileStreetNo, s, n, m)
		// A composed lens and the direct lens to the same field agree.
		if homeStreetName.Get(s) != s.Home.Street.Name {
			t.Errorf("composed Get = %q, field holds %q", homeStreetName.Get(s), s.Home.Street.Name)
		}
		direct := lens.Of(func(u *User) *int { return &u.Profile.Address.Street.No })
		if diff := cmp.Diff(direct.Set(s, n), profileStreetNo.Set(s, n), userOpts); diff != "" {
			t.Errorf("composed and direct Set differ (-direct +composed):\n%s", diff)
		}
	})
}
