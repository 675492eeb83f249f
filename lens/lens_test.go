package lens_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/rapyer"
)

// The test model exercises every shape a lens can point at: scalars, a nested
// struct, a pointer to a struct (nested twice), a pointer to a scalar, a
// slice, a map, a set, renamed fields and skipped fields.
type Geo struct {
	Lat float64
	Lng float64
}

type Street struct {
	Name string
	No   int `redis:"number"`
}

type Address struct {
	City   string
	Zip    string `redis:"postcode"`
	Street Street
	Geo    *Geo
}

type Profile struct {
	Bio     string
	Address *Address
}

type User struct {
	Name      string
	Age       int
	CreatedAt time.Time
	Nick      *string
	Home      Address
	Profile   *Profile
	Tags      []string
	Scores    map[string]int
	Roles     map[string]struct{}
	Email     string `redis:"mail"`
	Secret    string `redis:"-"`
	internal  int
}

// described is what the table needs from a lens of any type.
type described interface {
	Path() string
	Names() []string
	String() string
	Valid() bool
}

func mk[S, A any](accessor func(*S) *A) func() (described, error) {
	return func() (described, error) { return lens.Make(accessor) }
}

func TestMakePaths(t *testing.T) {
	tests := []struct {
		name  string
		build func() (described, error)
		path  string
		str   string
	}{
		{"string", mk(func(u *User) *string { return &u.Name }), "name", "User.name"},
		{"int", mk(func(u *User) *int { return &u.Age }), "age", "User.age"},
		{"snake case", mk(func(u *User) *time.Time { return &u.CreatedAt }), "created_at", "User.created_at"},
		{"pointer to scalar", mk(func(u *User) **string { return &u.Nick }), "nick", "User.nick"},
		{"nested struct itself", mk(func(u *User) *Address { return &u.Home }), "home", "User.home"},
		{"nested scalar", mk(func(u *User) *string { return &u.Home.City }), "home.city", "User.home.city"},
		{"nested renamed", mk(func(u *User) *string { return &u.Home.Zip }), "home.postcode", "User.home.postcode"},
		{"nested twice", mk(func(u *User) *string { return &u.Home.Street.Name }), "home.street.name", "User.home.street.name"},
		{"nested twice renamed", mk(func(u *User) *int { return &u.Home.Street.No }), "home.street.number", "User.home.street.number"},
		{"pointer field itself", mk(func(u *User) **Geo { return &u.Home.Geo }), "home.geo", "User.home.geo"},
		{"through pointer", mk(func(u *User) *float64 { return &u.Home.Geo.Lat }), "home.geo.lat", "User.home.geo.lat"},
		{"pointer to struct field", mk(func(u *User) **Profile { return &u.Profile }), "profile", "User.profile"},
		{"through pointer scalar", mk(func(u *User) *string { return &u.Profile.Bio }), "profile.bio", "User.profile.bio"},
		{"through two pointers", mk(func(u *User) *string { return &u.Profile.Address.City }), "profile.address.city", "User.profile.address.city"},
		{"through three pointers", mk(func(u *User) *float64 { return &u.Profile.Address.Geo.Lng }), "profile.address.geo.lng", "User.profile.address.geo.lng"},
		{"through pointer then value", mk(func(u *User) *int { return &u.Profile.Address.Street.No }), "profile.address.street.number", "User.profile.address.street.number"},
		{"slice", mk(func(u *User) *[]string { return &u.Tags }), "tags", "User.tags"},
		{"map", mk(func(u *User) *map[string]int { return &u.Scores }), "scores", "User.scores"},
		{"set", mk(func(u *User) *map[string]struct{} { return &u.Roles }), "roles", "User.roles"},
		{"renamed", mk(func(u *User) *string { return &u.Email }), "mail", "User.mail"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := tt.build()
			if err != nil {
				t.Fatalf("Make: %v", err)
			}
			if !f.Valid() {
				t.Error("Valid() = false")
			}
			if got := f.Path(); got != tt.path {
				t.Errorf("Path() = %q, want %q", got, tt.path)
			}
			if got := f.String(); got != tt.str {
				t.Errorf("String() = %q, want %q", got, tt.str)
			}
			if got, want := f.Names(), strings.Split(tt.path, "."); !slices.Equal(got, want) {
				t.Errorf("Names() = %q, want %q", got, want)
			}
		})
	}
}

func TestNamesIsACopy(t *testing.T) {
	f := lens.Of(func(u *User) *string { return &u.Home.City })
	n := f.Names()
	n[0] = "mangled"
	if got := f.Names(); got[0] != "home" {
		t.Fatalf("changing the slice Names returned changed the lens: %q", got)
	}
	if f.Path() != "home.city" {
		t.Fatalf("Path() = %q after changing Names' result", f.Path())
	}
}

func TestOfEqualsMake(t *testing.T) {
	acc := func(u *User) *string { return &u.Profile.Address.City }
	a := lens.Of(acc)
	b, err := lens.Make(acc)
	if err != nil {
		t.Fatal(err)
	}
	if a.Path() != b.Path() || a.String() != b.String() {
		t.Fatalf("Of and Make disagree: %v vs %v", a, b)
	}
	u := User{Profile: &Profile{Address: &Address{City: "Oslo"}}}
	if a.Get(u) != "Oslo" || b.Get(u) != "Oslo" {
		t.Fatalf("Get: %q, %q", a.Get(u), b.Get(u))
	}
}

var global int

func TestMakeRefusesBadAccessors(t *testing.T) {
	tests := []struct {
		name  string
		build func() (described, error)
	}{
		{"nil accessor", func() (described, error) { return lens.Make[User, int](nil) }},
		{"local variable", mk(func(u *User) *int { x := u.Age; return &x })},
		{"global variable", mk(func(*User) *int { return &global })},
		{"the struct itself", mk(func(u *User) *User { return u })},
		{"unexported field", mk(func(u *User) *int { return &u.internal })},
		{"skipped field", mk(func(u *User) *string { return &u.Secret })},
		{"panics", mk(func(*User) *int { panic("boom") })},
		{"slice element", mk(func(u *User) *string { return &u.Tags[0] })},
		{"returns nil", mk(func(*User) *int { return nil })},
		{"nil pointer to scalar", mk(func(u *User) *string { return u.Nick })},
		// The target of a pointer-to-struct field is not itself a stored
		// field: lenses point at the pointer (&u.Profile) instead.
		{"pointee of pointer field", mk(func(u *User) *Profile { return u.Profile })},
		// The address of a field (and of the struct around it) with another type.
		{"type does not match", mk(func(u *User) *Street { return (*Street)(unsafe.Pointer(&u.Home.City)) })},
		// Inside a field but not at its start.
		{"middle of a field", mk(func(u *User) *int32 { return (*int32)(unsafe.Add(unsafe.Pointer(&u.Age), 4)) })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := tt.build()
			if !errors.Is(err, rapyer.ErrInvalid) {
				t.Fatalf("Make error = %v, want one wrapping rapyer.ErrInvalid", err)
			}
			if errors.Is(err, errs.Unsupported) {
				t.Errorf("error %v also wraps errs.Unsupported", err)
			}
			if f.Valid() {
				t.Errorf("the refused lens reports Valid(); Path() = %q", f.Path())
			}
		})
	}
}

// One rapyer.ErrInvalid: a bad lens, a bad argument and a bad id all wrap
// rapyer.ErrInvalid (a bad id wraps rapyer.ErrInvalidID too).
func TestErrInvalidIsShared(t *testing.T) {
	_, lensErr := lens.Make[User, int](nil)
	_, idErr := rapyer.MustNew[User](redis.NewClient(&redis.Options{}), rapyer.Options{}).Key("a{b")
	if !errors.Is(lensErr, rapyer.ErrInvalid) || !errors.Is(idErr, rapyer.ErrInvalid) || !errors.Is(idErr, rapyer.ErrInvalidID) {
		t.Fatalf("a bad lens: %v, a bad id: %v; want both to wrap rapyer.ErrInvalid", lensErr, idErr)
	}
	if errors.Is(lensErr, rapyer.ErrInvalidID) || !errors.Is(rapyer.ErrInvalid, errs.Invalid) {
		t.Fatalf("a bad lens wraps ErrInvalidID, or rapyer.ErrInvalid is not errs.Invalid")
	}
}

func mustPanicWith(t *testing.T, target error, fn func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Fatal("did not panic")
		}
		err, ok := r.(error)
		if !ok {
			t.Fatalf("panicked with %T %v, want an error", r, r)
		}
		if !errors.Is(err, target) {
			t.Fatalf("panicked with %v, want one wrapping %v", err, target)
		}
	}()
	fn()
}

func TestOfPanics(t *testing.T) {
	tests := []struct {
		name string
		fn   func()
	}{
		{"nil accessor", func() { lens.Of[User, int](nil) }},
		{"local variable", func() { lens.Of(func(*User) *int { x := 1; return &x }) }},
		{"the struct itself", func() { lens.Of(func(u *User) *User { return u }) }},
		{"unexported field", func() { lens.Of(func(u *User) *int { return &u.internal }) }},
		{"skipped field", func() { lens.Of(func(u *User) *string { return &u.Secret }) }},
		{"panics", func() { lens.Of(func(*User) *int { panic("boom") }) }},
		{"returns nil", func() { lens.Of(func(*User) *int { return nil }) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { mustPanicWith(t, rapyer.ErrInvalid, tt.fn) })
	}
	t.Run("unsupported model", func(t *testing.T) {
		mustPanicWith(t, errs.Unsupported, func() { lens.Of(func(m *WithChan) *string { return &m.ID }) })
	})
}

func TestMakePanicMessageKeepsTheCause(t *testing.T) {
	_, err := lens.Make(func(*User) *int { panic("the-cause") })
	if err == nil || !strings.Contains(err.Error(), "the-cause") {
		t.Fatalf("error %v does not carry the panic value", err)
	}
}

// Models with one field that cannot be stored. Each also has a good field the
// accessor points at, so the refusal comes from the model, not the accessor.
type (
	WithChan struct {
		ID     string
		Events chan int
	}
	WithFunc struct {
		ID       string
		Callback func()
	}
	WithComplex struct {
		ID    string
		Phase complex128
	}
	WithInterface struct {
		ID      string
		Payload interface{}
	}
	WithPtrPtr struct {
		ID    string
		Count **int
	}
	Recursive struct {
		ID   string
		Next *Recursive
	}
	Key           struct{ A, B int }
	WithStructKey struct {
		ID    string
		Index map[Key]int
	}
	Base struct {
		Created time.Time
		ID      string
	}
	WithEmbedded struct {
		ID string
		Base
	}
	//lint:ignore U1000 an unexported field, which lenses must not reach
	Hidden         struct{ secret int }
	WithOnlyHidden struct {
		ID     string
		Hidden Hidden
	}
	WithChanList struct {
		ID    string
		Pipes []chan int
	}
	Inner       struct{ Callback func() }
	WithDeepBad struct {
		ID    string
		Outer Inner
	}
	WithPtrSlice struct {
		ID   string
		Tags *[]string
	}
	WithArray struct {
		ID    string
		Pairs [2]int
	}
	WithReserved struct {
		ID      string
		Version int `redis:"__version"`
	}
	WithDottedTag struct {
		ID   string
		City string `redis:"home.city"`
	}
	WithDuplicate struct {
		ID     string
		UserID string
		UserId string
	}
)

func TestMakeRefusesUnsupportedModels(t *testing.T) {
	tests := []struct {
		name   string
		build  func() (described, error)
		goName string // the Go field the message must name
	}{
		{"chan", mk(func(m *WithChan) *string { return &m.ID }), "Events"},
		{"func", mk(func(m *WithFunc) *string { return &m.ID }), "Callback"},
		{"complex128", mk(func(m *WithComplex) *string { return &m.ID }), "Phase"},
		{"interface", mk(func(m *WithInterface) *string { return &m.ID }), "Payload"},
		{"pointer to pointer", mk(func(m *WithPtrPtr) *string { return &m.ID }), "Count"},
		{"recursive", mk(func(m *Recursive) *string { return &m.ID }), "Next"},
		{"map with struct keys", mk(func(m *WithStructKey) *string { return &m.ID }), "Index"},
		{"embedded struct shadowing a field", mk(func(m *WithEmbedded) *string { return &m.ID }), "Base.ID"},
		{"struct without exported fields", mk(func(m *WithOnlyHidden) *string { return &m.ID }), "Hidden"},
		{"list of chan", mk(func(m *WithChanList) *string { return &m.ID }), "Pipes"},
		{"nested bad field", mk(func(m *WithDeepBad) *string { return &m.ID }), "Outer.Callback"},
		{"pointer to slice", mk(func(m *WithPtrSlice) *string { return &m.ID }), "Tags"},
		{"array", mk(func(m *WithArray) *string { return &m.ID }), "Pairs"},
		{"reserved name", mk(func(m *WithReserved) *string { return &m.ID }), "Version"},
		{"dot in name", mk(func(m *WithDottedTag) *string { return &m.ID }), "City"},
		{"duplicate name", mk(func(m *WithDuplicate) *string { return &m.ID }), "UserId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := tt.build()
			if !errors.Is(err, errs.Unsupported) {
				t.Fatalf("Make error = %v, want one wrapping errs.Unsupported", err)
			}
			if errors.Is(err, rapyer.ErrInvalid) {
				t.Errorf("error %v also wraps ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), "field "+tt.goName+" ") {
				t.Errorf("error %q does not name the field %s", err, tt.goName)
			}
			if f.Valid() {
				t.Error("the refused lens reports Valid()")
			}
		})
	}
}

// The model's own type must be a struct.
func TestMakeRefusesNonStructModel(t *testing.T) {
	_, err := lens.Make(func(p *int) *int { return p })
	if !errors.Is(err, errs.Unsupported) {
		t.Fatalf("Make on *int: %v, want errs.Unsupported", err)
	}
}

var (
	lAge      = lens.Of(func(u *User) *int { return &u.Age })
	lName     = lens.Of(func(u *User) *string { return &u.Name })
	lNick     = lens.Of(func(u *User) **string { return &u.Nick })
	lCity     = lens.Of(func(u *User) *string { return &u.Home.City })
	lStreetNo = lens.Of(func(u *User) *int { return &u.Home.Street.No })
	lHomeLat  = lens.Of(func(u *User) *float64 { return &u.Home.Geo.Lat })
	lBio      = lens.Of(func(u *User) *string { return &u.Profile.Bio })
	lPCity    = lens.Of(func(u *User) *string { return &u.Profile.Address.City })
	lPLng     = lens.Of(func(u *User) *float64 { return &u.Profile.Address.Geo.Lng })
	lTags     = lens.Of(func(u *User) *[]string { return &u.Tags })
	lScores   = lens.Of(func(u *User) *map[string]int { return &u.Scores })
	lRoles    = lens.Of(func(u *User) *map[string]struct{} { return &u.Roles })
	lHome     = lens.Of(func(u *User) *Address { return &u.Home })
	lProfile  = lens.Of(func(u *User) **Profile { return &u.Profile })

	lAddrCity   = lens.Of(func(a *Address) *string { return &a.City })
	lAddrStreet = lens.Of(func(a *Address) *Street { return &a.Street })
	lAddrGeoLat = lens.Of(func(a *Address) *float64 { return &a.Geo.Lat })
	lStreetName = lens.Of(func(s *Street) *string { return &s.Name })
)

var userOpts = cmp.AllowUnexported(User{})

func ptr[T any](v T) *T { return &v }

func sample() User {
	return User{
		Name:      "ada",
		Age:       36,
		CreatedAt: time.Date(2024, 5, 6, 7, 8, 9, 10, time.UTC),
		Nick:      ptr("countess"),
		Home: Address{
			City:   "London",
			Zip:    "W1",
			Street: Street{Name: "Baker", No: 221},
			Geo:    &Geo{Lat: 51.5, Lng: -0.12},
		},
		Profile: &Profile{
			Bio:     "maths",
			Address: &Address{City: "Paris", Geo: &Geo{Lat: 48.8, Lng: 2.35}},
		},
		Tags:     []string{"a", "b"},
		Scores:   map[string]int{"x": 1},
		Roles:    map[string]struct{}{"admin": {}},
		Email:    "ada@example.com",
		Secret:   "s3cret",
		internal: 7,
	}
}

// deepCopy gives a User that shares no pointer with u, so changes made
// through u's pointers can be detected by comparing against it.
func deepCopy(u User) User {
	c := u
	if u.Nick != nil {
		c.Nick = ptr(*u.Nick)
	}
	if u.Home.Geo != nil {
		c.Home.Geo = ptr(*u.Home.Geo)
	}
	if u.Profile != nil {
		p := *u.Profile
		if p.Address != nil {
			a := *p.Address
			if a.Geo != nil {
				a.Geo = ptr(*a.Geo)
			}
			p.Address = &a
		}
		c.Profile = &p
	}
	c.Tags = slices.Clone(u.Tags)
	if u.Scores != nil {
		c.Scores = map[string]int{}
		for k, v := range u.Scores {
			c.Scores[k] = v
		}
	}
	if u.Roles != nil {
		c.Roles = map[string]struct{}{}
		for k := range u.Roles {
			c.Roles[k] = struct{}{}
		}
	}
	return c
}

func TestGet(t *testing.T) {
	u := sample()
	check := func(name string, got, want any) {
		t.Helper()
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: Get mismatch (-want +got):\n%s", name, diff)
		}
	}
	check("age", lAge.Get(u), 36)
	check("name", lName.Get(u), "ada")
	check("nick", lNick.Get(u), u.Nick)
	check("city", lCity.Get(u), "London")
	check("street no", lStreetNo.Get(u), 221)
	check("home lat", lHomeLat.Get(u), 51.5)
	check("bio", lBio.Get(u), "maths")
	check("profile city", lPCity.Get(u), "Paris")
	check("profile lng", lPLng.Get(u), 2.35)
	check("tags", lTags.Get(u), []string{"a", "b"})
	check("scores", lScores.Get(u), map[string]int{"x": 1})
	check("roles", lRoles.Get(u), map[string]struct{}{"admin": {}})
	check("home", lHome.Get(u), u.Home)
	check("profile", lProfile.Get(u), u.Profile)
	if lNick.Get(u) != u.Nick {
		t.Error("Get of a pointer field returned another pointer")
	}
}

func TestGetThroughNilPointerGivesZero(t *testing.T) {
	var u User
	if got := lHomeLat.Get(u); got != 0 {
		t.Errorf("home lat = %v", got)
	}
	if got := lBio.Get(u); got != "" {
		t.Errorf("bio = %q", got)
	}
	if got := lPLng.Get(u); got != 0 {
		t.Errorf("profile lng = %v", got)
	}
	u.Profile = &Profile{Bio: "x"} // first pointer set, second nil
	if got := lPCity.Get(u); got != "" {
		t.Errorf("profile city = %q", got)
	}
	if got := lBio.Get(u); got != "x" {
		t.Errorf("bio = %q", got)
	}
}

func TestSetLeavesTheOriginalAlone(t *testing.T) {
	tests := []struct {
		name  string
		set   func(User) User
		check func(t *testing.T, got User)
	}{
		{"int", func(u User) User { return lAge.Set(u, 40) }, func(t *testing.T, got User) {
			if got.Age != 40 {
				t.Errorf("Age = %d", got.Age)
			}
		}},
		{"nested", func(u User) User { return lStreetNo.Set(u, 1) }, func(t *testing.T, got User) {
			if got.Home.Street.No != 1 {
				t.Errorf("No = %d", got.Home.Street.No)
			}
		}},
		{"pointer to scalar", func(u User) User { return lNick.Set(u, ptr("lady")) }, func(t *testing.T, got User) {
			if *got.Nick != "lady" {
				t.Errorf("Nick = %q", *got.Nick)
			}
		}},
		{"through pointer", func(u User) User { return lHomeLat.Set(u, 1.25) }, func(t *testing.T, got User) {
			if got.Home.Geo.Lat != 1.25 || got.Home.Geo.Lng != -0.12 {
				t.Errorf("Geo = %+v", *got.Home.Geo)
			}
		}},
		{"through two pointers", func(u User) User { return lPCity.Set(u, "Rome") }, func(t *testing.T, got User) {
			if got.Profile.Address.City != "Rome" {
				t.Errorf("City = %q", got.Profile.Address.City)
			}
			if got.Profile.Bio != "maths" || got.Profile.Address.Geo.Lat != 48.8 {
				t.Errorf("siblings lost: %+v %+v", *got.Profile, *got.Profile.Address)
			}
		}},
		{"through three pointers", func(u User) User { return lPLng.Set(u, 9) }, func(t *testing.T, got User) {
			if got.Profile.Address.Geo.Lng != 9 || got.Profile.Address.Geo.Lat != 48.8 {
				t.Errorf("Geo = %+v", *got.Profile.Address.Geo)
			}
		}},
		{"slice", func(u User) User { return lTags.Set(u, []string{"z"}) }, func(t *testing.T, got User) {
			if !slices.Equal(got.Tags, []string{"z"}) {
				t.Errorf("Tags = %q", got.Tags)
			}
		}},
		{"modify", func(u User) User { return lPCity.Modify(u, strings.ToUpper) }, func(t *testing.T, got User) {
			if got.Profile.Address.City != "PARIS" {
				t.Errorf("City = %q", got.Profile.Address.City)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := sample()
			snapshot := deepCopy(orig)
			profile, addr, geo := orig.Profile, orig.Profile.Address, orig.Home.Geo
			got := tt.set(orig)
			tt.check(t, got)
			if diff := cmp.Diff(snapshot, orig, userOpts); diff != "" {
				t.Errorf("Set changed its input (-before +after):\n%s", diff)
			}
			if orig.Profile != profile || orig.Profile.Address != addr || orig.Home.Geo != geo {
				t.Error("Set replaced a pointer of its input")
			}
			// Everything but the field itself is kept.
			if got.Name != "ada" || got.Email != "ada@example.com" || got.Secret != "s3cret" {
				t.Errorf("other fields lost: %+v", got)
			}
		})
	}
}

func TestSetAllocatesNilPointers(t *testing.T) {
	var u User
	got := lPLng.Set(u, 7.5)
	if u.Profile != nil {
		t.Fatal("Set wrote through to its input")
	}
	if got.Profile == nil || got.Profile.Address == nil || got.Profile.Address.Geo == nil {
		t.Fatalf("Set did not allocate the path: %+v", got)
	}
	want := User{Profile: &Profile{Address: &Address{Geo: &Geo{Lng: 7.5}}}}
	if diff := cmp.Diff(want, got, userOpts); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if lPLng.Get(got) != 7.5 {
		t.Errorf("Get after Set = %v", lPLng.Get(got))
	}

	// Only the missing part of the path is allocated; what was there is kept.
	u.Profile = &Profile{Bio: "kept"}
	got = lPCity.Set(u, "Lima")
	if got.Profile.Bio != "kept" || got.Profile.Address.City != "Lima" || got.Profile.Address.Geo != nil {
		t.Errorf("got %+v / %+v", *got.Profile, *got.Profile.Address)
	}
	if u.Profile.Address != nil {
		t.Error("Set wrote through to its input")
	}
}

func TestModify(t *testing.T) {
	u := sample()
	got := lAge.Modify(u, func(n int) int { return n * 2 })
	if got.Age != 72 || u.Age != 36 {
		t.Errorf("Age: got %d, original %d", got.Age, u.Age)
	}
	var calledWith float64 = -1
	got = lPLng.Modify(User{}, func(f float64) float64 { calledWith = f; return f + 1 })
	if calledWith != 0 || got.Profile.Address.Geo.Lng != 1 {
		t.Errorf("Modify through nil pointers: called with %v, got %+v", calledWith, got.Profile)
	}
	got = lTags.Modify(u, func(tags []string) []string { return append(slices.Clone(tags), "c") })
	if !slices.Equal(got.Tags, []string{"a", "b", "c"}) || !slices.Equal(u.Tags, []string{"a", "b"}) {
		t.Errorf("Tags: got %q, original %q", got.Tags, u.Tags)
	}
}

func TestCompose(t *testing.T) {
	city := lens.Compose(lHome, lAddrCity)
	if got, want := city.Path(), "home.city"; got != want {
		t.Errorf("Path() = %q, want %q", got, want)
	}
	if got, want := city.String(), "User.home.city"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := city.Names(), []string{"home", "city"}; !slices.Equal(got, want) {
		t.Errorf("Names() = %q, want %q", got, want)
	}
	if city.Path() != lCity.Path() {
		t.Errorf("composed %q, direct %q", city.Path(), lCity.Path())
	}

	u := sample()
	if got := city.Get(u); got != "London" {
		t.Errorf("Get = %q", got)
	}
	got := city.Set(u, "Leeds")
	if got.Home.City != "Leeds" || u.Home.City != "London" {
		t.Errorf("Set: got %q, original %q", got.Home.City, u.Home.City)
	}

	// Three levels, with a renamed field at the end.
	name := lens.Compose(lens.Compose(lHome, lAddrStreet), lStreetName)
	if got, want := name.Path(), "home.street.name"; got != want {
		t.Errorf("Path() = %q, want %q", got, want)
	}
	if got := name.Set(u, "Fleet").Home.Street.Name; got != "Fleet" {
		t.Errorf("Set through three levels = %q", got)
	}
	if name.Get(u) != "Baker" {
		t.Errorf("Get = %q", name.Get(u))
	}

	// The inner lens crosses a pointer: Set copies and allocates as the
	// direct lens does.
	lat := lens.Compose(lHome, lAddrGeoLat)
	if got, want := lat.Path(), "home.geo.lat"; got != want {
		t.Errorf("Path() = %q, want %q", got, want)
	}
	geo := u.Home.Geo
	got = lat.Set(u, -3)
	if got.Home.Geo.Lat != -3 || geo.Lat != 51.5 || u.Home.Geo != geo {
		t.Errorf("Set through composed pointer: got %v, original %v", got.Home.Geo.Lat, geo.Lat)
	}
	if got := lat.Set(User{}, 2).Home.Geo; got == nil || got.Lat != 2 {
		t.Errorf("Set on a nil pointer: %+v", got)
	}
	if lat.Get(User{}) != 0 || lat.Get(u) != 51.5 {
		t.Errorf("Get: %v, %v", lat.Get(User{}), lat.Get(u))
	}

	// The outer lens crosses a pointer.
	pAddrStreet := lens.Of(func(u *User) *Street { return &u.Profile.Address.Street })
	pStreet := lens.Compose(pAddrStreet, lStreetName)
	if got, want := pStreet.Path(), "profile.address.street.name"; got != want {
		t.Errorf("Path() = %q, want %q", got, want)
	}
	got = pStreet.Set(User{}, "Main")
	if got.Profile == nil || got.Profile.Address == nil || got.Profile.Address.Street.Name != "Main" {
		t.Errorf("Set on a zero User: %+v", got)
	}
	if pStreet.Get(got) != "Main" {
		t.Errorf("Get = %q", pStreet.Get(got))
	}
}

func TestInvalidField(t *testing.T) {
	var zero lens.Field[User, int]
	bad, _ := lens.Make(func(*User) *int { return nil })
	composed := lens.Compose(lens.Field[User, Address]{}, lens.Of(func(a *Address) *int { return &a.Street.No }))
	composed2 := lens.Compose(lHome, lens.Field[Address, int]{})
	for name, f := range map[string]lens.Field[User, int]{"zero": zero, "refused": bad, "compose invalid outer": composed, "compose invalid inner": composed2} {
		t.Run(name, func(t *testing.T) {
			if f.Valid() {
				t.Error("Valid() = true")
			}
			if f.Path() != "" || f.Names() != nil {
				t.Errorf("Path() = %q, Names() = %q", f.Path(), f.Names())
			}
			if got, want := f.String(), "User.<invalid lens>"; got != want {
				t.Errorf("String() = %q, want %q", got, want)
			}
			u := sample()
			if f.Get(u) != 0 {
				t.Errorf("Get = %d", f.Get(u))
			}
			if diff := cmp.Diff(u, f.Set(u, 99), userOpts); diff != "" {
				t.Errorf("Set changed the value:\n%s", diff)
			}
		})
	}
}

// A struct stored as one scalar (it has MarshalText) is not flattened, so
// its fields have no stored names of their own, and no composed lens can
// point into it.
type Point struct{ X, Y int }

func (p Point) MarshalText() ([]byte, error) { return fmt.Appendf(nil, "%d,%d", p.X, p.Y), nil }
func (p *Point) UnmarshalText(b []byte) error {
	_, err := fmt.Sscanf(string(b), "%d,%d", &p.X, &p.Y)
	return err
}

type Shape struct {
	Name   string
	Origin Point
	Corner *Point
}

func TestComposeIntoScalarStructIsInvalid(t *testing.T) {
	origin := lens.Of(func(s *Shape) *Point { return &s.Origin })
	if origin.Path() != "origin" {
		t.Fatalf("Path() = %q", origin.Path())
	}
	x := lens.Of(func(p *Point) *int { return &p.X })
	if _, err := lens.Make(func(s *Shape) *int { return &s.Origin.X }); !errors.Is(err, rapyer.ErrInvalid) {
		t.Errorf("a lens into a text-encoded struct: %v, want ErrInvalid", err)
	}
	if _, err := lens.Make(func(s *Shape) *int { return &s.Corner.X }); !errors.Is(err, rapyer.ErrInvalid) {
		t.Errorf("a lens into a text-encoded struct behind a pointer: %v, want ErrInvalid", err)
	}
	c := lens.Compose(origin, x)
	if c.Valid() {
		t.Fatalf("Compose into a scalar struct gave the lens %q, a name the model does not store", c.Path())
	}
}

// Lenses are immutable values: using one from many goroutines is safe.
func TestConcurrentUse(t *testing.T) {
	done := make(chan struct{})
	for i := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			u := sample()
			for j := range 200 {
				u = lPLng.Set(u, float64(i*1000+j))
				u = lAge.Modify(u, func(n int) int { return n + 1 })
				if got := lPLng.Get(u); got != float64(i*1000+j) {
					t.Errorf("goroutine %d: Get after Set = %v", i, got)
					return
				}
			}
			if u.Age != 36+200 {
				t.Errorf("goroutine %d: age %d", i, u.Age)
			}
		}()
	}
	for range 8 {
		<-done
	}
	// Building lenses concurrently on a fresh type resolves it once.
	type Fresh struct{ A, B int }
	errc := make(chan error, 8)
	for range 8 {
		go func() {
			f, err := lens.Make(func(s *Fresh) *int { return &s.B })
			if err == nil && f.Path() != "b" {
				err = fmt.Errorf("path %q", f.Path())
			}
			errc <- err
		}()
	}
	for range 8 {
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}
}
