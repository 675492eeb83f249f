package lens_test

import (
	"errors"
	"fmt"

	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/rapyer"
)

type Coords struct {
	Lat, Lng float64
}

type Office struct {
	City   string
	Coords *Coords
}

type Account struct {
	Owner   string
	Balance int
	Office  Office
	Tags    []string `redis:"labels"`
	Notes   string   `redis:"-"`
}

func ExampleOf() {
	balance := lens.Of(func(a *Account) *int { return &a.Balance })
	city := lens.Of(func(a *Account) *string { return &a.Office.City })
	tags := lens.Of(func(a *Account) *[]string { return &a.Tags })

	fmt.Println(balance.Path(), city.Path(), tags.Path())
	fmt.Println(city)
	fmt.Println(balance.Get(Account{Balance: 42}))
	// Output:
	// balance office.city labels
	// Account.office.city
	// 42
}

func ExampleField_Set() {
	lat := lens.Of(func(a *Account) *float64 { return &a.Office.Coords.Lat })

	before := Account{Owner: "ada", Office: Office{Coords: &Coords{Lat: 1, Lng: 2}}}
	after := lat.Set(before, 51.5)

	// Set copies the pointer it goes through: before is unchanged.
	fmt.Println(lat.Get(before), lat.Get(after), after.Office.Coords.Lng)

	// A nil pointer on the way is allocated.
	fresh := lat.Set(Account{}, 10)
	fmt.Println(fresh.Office.Coords != nil, lat.Get(fresh))
	// Output:
	// 1 51.5 2
	// true 10
}

func ExampleCompose() {
	office := lens.Of(func(a *Account) *Office { return &a.Office })
	city := lens.Of(func(o *Office) *string { return &o.City })

	accountCity := lens.Compose(office, city)
	fmt.Println(accountCity.Path())

	a := accountCity.Set(Account{Owner: "ada"}, "Oslo")
	fmt.Println(a.Office.City, accountCity.Get(a))
	// Output:
	// office.city
	// Oslo Oslo
}

func ExampleThrough() {
	coords := lens.Of(func(o *Office) **Coords { return &o.Coords })
	lat := lens.Of(func(c *Coords) *float64 { return &c.Lat })

	officeLat := lens.Through(coords, lat)
	fmt.Println(officeLat.Path())

	var o Office // Coords is nil
	fmt.Println(officeLat.Get(o))
	o2 := officeLat.Set(o, 59.9)
	fmt.Println(o.Coords == nil, o2.Coords.Lat)
	// Output:
	// coords.lat
	// 0
	// true 59.9
}

func ExampleMake() {
	// Notes is skipped with redis:"-": it is not stored, so no lens points at it.
	_, err := lens.Make(func(a *Account) *string { return &a.Notes })
	fmt.Println(errors.Is(err, rapyer.ErrInvalid))

	// An accessor must return the address of a field, not of a copy.
	_, err = lens.Make(func(a *Account) *int { n := a.Balance; return &n })
	fmt.Println(err)
	// Output:
	// true
	// rapyer: invalid argument: the accessor does not return the address of a field of lens_test.Account
}
