package query_test

import (
	"fmt"

	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/query"
)

// A query is a value that renders without a server: each method returns a
// new query and leaves its receiver as it was, so a base query can be kept
// and refined.
func ExampleQuery_String() {
	cheap := query.Where(is.And(is.Equal(Status, "in stock"), is.Below(Price, 20)))
	fmt.Println(cheap)
	fmt.Println(cheap.OrderBy(Price).Desc().Limit(10))
	fmt.Println(query.All[Product]().Limit(50))
	fmt.Println(cheap)
	// Output:
	// Where(And(Equal(status, "in stock"), Below(price, 20)))
	// Where(And(Equal(status, "in stock"), Below(price, 20))).OrderBy(price).Desc().Limit(10)
	// All().Limit(50)
	// Where(And(Equal(status, "in stock"), Below(price, 20)))
}
