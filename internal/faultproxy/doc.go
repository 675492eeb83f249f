// Package faultproxy is an in-process TCP proxy for fault tests: put it
// between a client and a Redis server, then cut connections, slow traffic
// down, refuse new connections, or let a request through and drop its reply.
//
//	p := faultproxy.Start(t, server.Addr())
//	c := redis.NewClient(&redis.Options{Addr: p.Addr(), MaxRetries: -1})
//	dropped := p.DropReplyTo("INCR")
//	err := c.Incr(ctx, "n").Err() // the server counted; the client got an error
//	<-dropped
//
// # Dropping a reply
//
// [Proxy.DropReplyTo] is the fault behind DESIGN 5.7 ("no double apply"): the
// request reaches the server and is applied, but the reply never reaches the
// client, whose connection is then closed. The client cannot tell whether the
// request was applied; a client that blindly resends it applies it twice.
// With go-redis v9 default options (three retries) a plain INCR, a plain
// pipeline and an EVALSHA are resent and applied twice without an error; a
// MULTI/EXEC transaction is not resent and fails with EOF. The tests of this
// package pin that down.
//
// A "request" is what one read from the client connection brings: the
// commands a client writes at once, which for go-redis is one command or one
// whole pipeline. The proxy parses the RESP stream on both sides, so it knows
// which replies answer the matched request; replies to earlier requests on
// the connection still reach the client.
//
// # Lifetime
//
// [Start] registers [Proxy.Close] as a cleanup of the test. Close closes the
// listener and every connection and waits until every goroutine of the proxy
// has returned.
package faultproxy
