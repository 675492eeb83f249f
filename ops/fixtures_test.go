package ops_test

import (
	"maps"
	"slices"
	"time"

	"github.com/rapyer-go/rapyer/lens"
)

// Acct is the model of the op tests: a field of every kind the ops act on.
type Acct struct {
	Owner   string
	Balance int
	Small   int8
	Big     int64
	Count   uint
	Ratio   float64
	Note    string
	Blob    []byte
	When    time.Time
	Flag    bool
	Nick    *string
	Home    Address
	History []string
	Queue   []string
	Items   []Item
	Limits  map[string]int
	Flags   map[string]struct{}
}

// Address is flattened into the root hash.
type Address struct {
	Street string
	City   string
}

// Item is a struct element of a list, stored as JSON.
type Item struct {
	SKU string `json:"sku"`
	Qty int    `json:"qty"`
}

// Other is a second model type, for ops bound to the wrong model.
type Other struct {
	Balance int
}

var (
	Owner   = lens.Of(func(a *Acct) *string { return &a.Owner })
	Balance = lens.Of(func(a *Acct) *int { return &a.Balance })
	Small   = lens.Of(func(a *Acct) *int8 { return &a.Small })
	Big     = lens.Of(func(a *Acct) *int64 { return &a.Big })
	Count   = lens.Of(func(a *Acct) *uint { return &a.Count })
	Ratio   = lens.Of(func(a *Acct) *float64 { return &a.Ratio })
	Note    = lens.Of(func(a *Acct) *string { return &a.Note })
	Blob    = lens.Of(func(a *Acct) *[]byte { return &a.Blob })
	When    = lens.Of(func(a *Acct) *time.Time { return &a.When })
	Flag    = lens.Of(func(a *Acct) *bool { return &a.Flag })
	Nick    = lens.Of(func(a *Acct) **string { return &a.Nick })
	Home    = lens.Of(func(a *Acct) *Address { return &a.Home })
	History = lens.Of(func(a *Acct) *[]string { return &a.History })
	Queue   = lens.Of(func(a *Acct) *[]string { return &a.Queue })
	Items   = lens.Of(func(a *Acct) *[]Item { return &a.Items })
	Limits  = lens.Of(func(a *Acct) *map[string]int { return &a.Limits })
	Flags   = lens.Of(func(a *Acct) *map[string]struct{} { return &a.Flags })

	OtherBalance = lens.Of(func(o *Other) *int { return &o.Balance })
)

func set(members ...string) map[string]struct{} {
	m := make(map[string]struct{}, len(members))
	for _, e := range members {
		m[e] = struct{}{}
	}
	return m
}

func ptr[T any](v T) *T { return &v }

// edit returns a deep copy of a changed by fn, so that a case's start and
// want never share a slice or a map.
func edit(a Acct, fn func(a *Acct)) Acct {
	c := a
	c.Blob = slices.Clone(a.Blob)
	c.History = slices.Clone(a.History)
	c.Queue = slices.Clone(a.Queue)
	c.Items = slices.Clone(a.Items)
	c.Limits = maps.Clone(a.Limits)
	c.Flags = maps.Clone(a.Flags)
	if a.Nick != nil {
		c.Nick = ptr(*a.Nick)
	}
	if fn != nil {
		fn(&c)
	}
	return c
}
