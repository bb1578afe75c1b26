package bff

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"time"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/tokens"
)

// The terminal hot path's two per-replica caches, so that a payment costs
// one Redis round trip (the money script) and no signature verification:
//
//   - terminalCache keeps each terminal's record (status, store, guess
//     count) for at most terminalCacheTTL. A suspension or reactivation on
//     this replica (the guessing policy, an operator) drops the copy at
//     once; another replica sees it within terminalCacheTTL. Nothing that
//     moves money trusts the copy beyond that: the guess count it holds
//     only decides whether a code is tried at all, and every guess is
//     counted and decided atomically in Redis (store.CountGuess).
//   - tokenCache remembers a verified terminal token (and, for the
//     customer API, an access token), by the SHA-256 of
//     the token, until the token's expiry, so its ES256 signature is
//     verified once per token rather than once per call. A token that fails
//     is never remembered. (So a signing key withdrawn from the key set
//     stops a terminal token already seen here only when it expires; the
//     terminal's status, above, is what stops a terminal.) Both caches are bounded: when full, the expired
//     entries go, and if that is not enough, all of them.

// terminalCacheTTL is how long a replica trusts its copy of a terminal.
const terminalCacheTTL = time.Second

// cacheMax bounds each cache's entries (a terminal fleet is thousands).
const cacheMax = 16384

type terminalEntry struct {
	t  store.Terminal
	at time.Time
}

type terminalCache struct {
	st  *store.Store
	now func() time.Time
	mu  sync.Mutex
	m   map[string]terminalEntry
}

func newTerminalCache(st *store.Store, now func() time.Time) *terminalCache {
	return &terminalCache{st: st, now: now, m: map[string]terminalEntry{}}
}

// get returns a copy of the terminal's record, at most terminalCacheTTL
// old; store.ErrNotFound (wrapped) when there is none (not remembered).
func (c *terminalCache) get(ctx context.Context, id string) (*store.Terminal, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.m[id]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < terminalCacheTTL && !now.Before(e.at) {
		t := e.t
		return &t, nil
	}
	t, err := c.st.Terminal(ctx, id)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) >= cacheMax {
		for k, e := range c.m {
			if now.Sub(e.at) >= terminalCacheTTL {
				delete(c.m, k)
			}
		}
		if len(c.m) >= cacheMax {
			clear(c.m)
		}
	}
	c.m[id] = terminalEntry{t: *t, at: now}
	c.mu.Unlock()
	return t, nil
}

// forget drops this replica's copy of a terminal (its status changed here).
func (c *terminalCache) forget(id string) {
	c.mu.Lock()
	delete(c.m, id)
	c.mu.Unlock()
}

// counted brings this replica's copy up to date with a guess just counted
// in Redis, or drops it when the guess suspended the terminal.
func (c *terminalCache) counted(id string, g store.GuessCount) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	if !ok {
		return
	}
	if g.Suspended || !g.Known {
		delete(c.m, id)
		return
	}
	e.t.Guesses, e.t.GuessesUntil = g.N, g.Until
	c.m[id] = e
}

// payStore is the store as package pay sees it from bff: the movements go
// to Redis, the guess count is read from the cached terminal record, and a
// counted guess updates that record.
type payStore struct {
	*store.Store
	terms *terminalCache
}

func (p payStore) Guesses(ctx context.Context, terminalID string, now time.Time) (int64, error) {
	t, err := p.terms.get(ctx, terminalID)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil // removed since requireTerminal: nothing counted (as store.Guesses)
	} else if err != nil {
		return 0, err
	}
	return t.GuessesAt(now), nil
}

func (p payStore) CountGuess(ctx context.Context, terminalID string, now time.Time, window time.Duration, suspendAt int64) (store.GuessCount, error) {
	g, err := p.Store.CountGuess(ctx, terminalID, now, window, suspendAt)
	if err == nil {
		p.terms.counted(terminalID, g)
	}
	return g, err
}

// tokenCache remembers verified tokens (claims of type C) by the SHA-256
// of the token, until expiry(claims).
type tokenCache[C any] struct {
	now    func() time.Time
	expiry func(*C) time.Time
	mu     sync.Mutex
	m      map[[32]byte]C
}

func newTokenCache[C any](now func() time.Time, expiry func(*C) time.Time) *tokenCache[C] {
	return &tokenCache[C]{now: now, expiry: expiry, m: map[[32]byte]C{}}
}

// newTerminalTokenCache remembers terminal tokens.
func newTerminalTokenCache(now func() time.Time) *tokenCache[tokens.TerminalClaims] {
	return newTokenCache(now, func(c *tokens.TerminalClaims) time.Time { return c.Expiry })
}

// newAccessTokenCache remembers customer access tokens: the signature of
// a phone's token is verified once, not on every call, which leaves one
// ES256 verification per call (the DPoP proof, fresh each time). What
// the token grants is still checked on every call against Redis (the
// session, its device, its key), as before. The caveat of the terminal
// tokens applies: a signing key withdrawn from the key set stops a token
// already seen here only when it expires (PAYCODE_ACCESS_TOKEN_TTL); a
// session ended stops it at once.
func newAccessTokenCache(now func() time.Time) *tokenCache[tokens.AccessClaims] {
	return newTokenCache(now, func(c *tokens.AccessClaims) time.Time { return c.Expiry })
}

// verify returns the token's claims: remembered ones while the token has
// not expired, else verify's, remembered when it succeeds. Each caller
// gets its own copy (slices in C are shared: callers only read them).
func (c *tokenCache[C]) verify(token string, verify func(string) (*C, error)) (*C, error) {
	h := sha256.Sum256([]byte(token))
	now := c.now()
	c.mu.Lock()
	e, ok := c.m[h]
	c.mu.Unlock()
	if ok && now.Before(c.expiry(&e)) {
		return &e, nil
	}
	cl, err := verify(token)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) >= cacheMax {
		for k, e := range c.m {
			if !now.Before(c.expiry(&e)) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= cacheMax {
			clear(c.m)
		}
	}
	c.m[h] = *cl
	c.mu.Unlock()
	return cl, nil
}
