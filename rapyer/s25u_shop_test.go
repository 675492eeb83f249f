package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// A shop as a new user writes it from the README and docs: users registered
// under a unique email, a cart as a map of sku to quantity, and a checkout
// that moves stock from products to the order under guards, in one batch.

type s25uUser struct {
	Email string
	Name  string
}

// s25uCartOf is a user's cart, kept apart from the user: a type with a Unique
// index cannot have a HashTag (rapyer.New refuses it), and the checkout's
// batch over the cart and the products needs one on a cluster.
type s25uCartOf struct {
	Items  map[string]int
	Orders []string
}

type s25uProduct struct {
	Name  string
	Stock int
}

var (
	s25uEmail  = lens.Of(func(u *s25uUser) *string { return &u.Email })
	s25uCart   = lens.Of(func(c *s25uCartOf) *map[string]int { return &c.Items })
	s25uOrders = lens.Of(func(c *s25uCartOf) *[]string { return &c.Orders })
	s25uStock  = lens.Of(func(p *s25uProduct) *int { return &p.Stock })
)

type s25uShop struct {
	users    *rapyer.Model[s25uUser]
	carts    *rapyer.Model[s25uCartOf]
	products *rapyer.Model[s25uProduct]
	rdb      redis.UniversalClient
}

// newS25uShop gives both models one hash tag, so that a checkout over a user
// and its products runs as one batch on a cluster too (docs/atomicity.md).
func newS25uShop(t *testing.T, b *testenv.Backend) *s25uShop {
	shop := func(string) string { return "shop" }
	if _, err := rapyer.New[s25uUser](b.Client, rapyer.Options{Prefix: b.Prefix + "user", HashTag: shop,
		Indexes: []index.Spec{index.Unique(s25uEmail)}}); !errors.Is(err, rapyer.ErrInvalid) {
		t.Fatalf("a Unique index with a HashTag: %v, want ErrInvalid (docs/queries.md)", err)
	}
	users, err := rapyer.New[s25uUser](b.Client, rapyer.Options{Prefix: b.Prefix + "user",
		Indexes: []index.Spec{index.Unique(s25uEmail)}})
	if err != nil {
		t.Fatal(err)
	}
	carts, err := rapyer.New[s25uCartOf](b.Client, rapyer.Options{Prefix: b.Prefix + "cart", HashTag: shop})
	if err != nil {
		t.Fatal(err)
	}
	products, err := rapyer.New[s25uProduct](b.Client, rapyer.Options{Prefix: b.Prefix + "product", HashTag: shop})
	if err != nil {
		t.Fatal(err)
	}
	return &s25uShop{users: users, carts: carts, products: products, rdb: b.Client}
}

// register makes a user; a second user with the same email is refused.
func (s *s25uShop) register(ctx context.Context, email, name string) (string, error) {
	return s.users.Insert(ctx, s25uUser{Email: email, Name: name})
}

func (s *s25uShop) addToCart(ctx context.Context, user, sku string, qty int) error {
	_, err := s.carts.Exec(ctx, user, tx.Of(ops.CreateIfMissing(s25uCartOf{}), ops.IncrItem(s25uCart, sku, qty)))
	return err
}

// checkout moves the cart's quantities out of stock, empties the cart and
// records the order, all or nothing; the version guard makes it fail when the
// cart changed since it was read.
func (s *s25uShop) checkout(ctx context.Context, user, order string) error {
	u, v, err := s.carts.GetWithVersion(ctx, user)
	if err != nil {
		return err
	}
	if len(u.Items) == 0 {
		return errors.New("empty cart")
	}
	skus := make([]string, 0, len(u.Items))
	for sku := range u.Items {
		skus = append(skus, sku)
	}
	sort.Strings(skus)
	parts := []tx.Batch{tx.On(s.carts.Target(user),
		ops.VersionIs[s25uCartOf](v), ops.ClearItems(s25uCart), ops.Append(s25uOrders, order))}
	for _, sku := range skus {
		q := u.Items[sku]
		parts = append(parts, tx.On(s.products.Target(sku),
			ops.Require(is.AtLeast(s25uStock, q)), ops.Decr(s25uStock, q)))
	}
	_, err = tx.Exec(ctx, s.rdb, tx.Join(parts...), tx.Options{})
	return err
}

func TestS25uShop(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := t.Context()
		s := newS25uShop(t, b)
		alice, err := s.register(ctx, "alice@example.com", "Alice")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.register(ctx, "alice@example.com", "Mallory"); !errors.Is(err, rapyer.ErrDuplicate) || !errors.Is(err, rapyer.ErrPrecondition) {
			t.Fatalf("second registration with alice's email: %v, want ErrDuplicate", err)
		}
		n, err := s.users.Count(ctx, query.Where(is.Equal(s25uEmail, "alice@example.com")))
		if err != nil || n != 1 {
			t.Fatalf("users with alice's email: %d, %v; want 1", n, err)
		}
		for sku, stock := range map[string]int{"apple": 5, "pear": 1} {
			if err := s.products.Save(ctx, sku, s25uProduct{Name: sku, Stock: stock}); err != nil {
				t.Fatal(err)
			}
		}
		s25uMustCart(t, s, alice, map[string]int{"apple": 2, "pear": 2})
		err = s.checkout(ctx, alice, "o1")
		var ge *rapyer.GuardError
		if !errors.As(err, &ge) || ge.Field != "stock" || ge.Seen != "1" {
			t.Fatalf("checkout of 2 pears with 1 in stock: %v, want a GuardError on stock seen 1", err)
		}
		s25uWantStock(t, s, map[string]int{"apple": 5, "pear": 1}) // nothing moved
		if u, _ := s.carts.Get(ctx, alice); len(u.Items) != 2 || len(u.Orders) != 0 {
			t.Fatalf("after a failed checkout the user is %+v, want the cart kept and no order", u)
		}
		if _, err := s.carts.Exec(ctx, alice, tx.Of(ops.SetItem(s25uCart, "pear", 1))); err != nil {
			t.Fatal(err)
		}
		if err := s.checkout(ctx, alice, "o1"); err != nil {
			t.Fatal(err)
		}
		s25uWantStock(t, s, map[string]int{"apple": 3, "pear": 0})
		u, err := s.carts.Get(ctx, alice)
		if err != nil || len(u.Items) != 0 || fmt.Sprint(u.Orders) != "[o1]" {
			t.Fatalf("after checkout: %+v, %v; want an empty cart and order o1", u, err)
		}
		s25uConcurrentCheckouts(t, s)
	})
}

func s25uMustCart(t *testing.T, s *s25uShop, user string, cart map[string]int) {
	t.Helper()
	for sku, q := range cart {
		if err := s.addToCart(t.Context(), user, sku, q); err != nil {
			t.Fatal(err)
		}
	}
}

func s25uWantStock(t *testing.T, s *s25uShop, want map[string]int) {
	t.Helper()
	for sku, n := range want {
		p, err := s.products.Get(t.Context(), sku)
		if err != nil || p.Stock != n {
			t.Fatalf("stock of %s: %d, %v; want %d", sku, p.Stock, err, n)
		}
	}
}

// s25uConcurrentCheckouts: four buyers of one apple each race for the 3 left;
// exactly three succeed, and stock never goes below zero.
func s25uConcurrentCheckouts(t *testing.T, s *s25uShop) {
	ctx := t.Context()
	ids := make([]string, 4)
	for i := range ids {
		id, err := s.register(ctx, fmt.Sprintf("buyer%d@example.com", i), "buyer")
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
		s25uMustCart(t, s, id, map[string]int{"apple": 1})
	}
	var wg sync.WaitGroup
	errs := make([]error, len(ids))
	for i, id := range ids {
		wg.Go(func() { errs[i] = s.checkout(ctx, id, "o") })
	}
	wg.Wait()
	ok, sold := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, rapyer.ErrPrecondition):
			sold++
		default:
			t.Fatalf("checkout: %v", err)
		}
	}
	if ok != 3 || sold != 1 {
		t.Fatalf("%d checkouts went through and %d found it sold out; want 3 and 1 (errors %v)", ok, sold, errs)
	}
	s25uWantStock(t, s, map[string]int{"apple": 0})
}
