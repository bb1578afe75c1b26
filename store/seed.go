package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// SeedAccount is one account as Seed writes it: what sign-up writes, one
// session, and its life so far as codes issued and redeemed (Moves[i]
// redeems Codes[i]: a top-up, then payments).
type SeedAccount struct {
	Account     NewAccount
	Session     Session
	RefreshHash string
	Codes       []CodeIssue
	Moves       []Movement
}

// Seed writes accounts in bulk for benchmarks (paycode-load -seed): one
// pipeline for all of them, with the very scripts and commands sign-up
// (contact claim, createAccount), sessions (CreateSession's commands),
// issuance (issueCode) and payments (payScript) run, built by the same
// functions, so a seeded account has exactly the records a real one has
// and cannot drift from them. The only other write is the verified mark
// on the sign-up record createAccount requires, which createAccount
// deletes. Each step's answer is checked: a contact taken, a code not
// issued or a movement declined is an error (after the whole pipeline
// ran). Not durable (no WAIT) and not for production data.
func (s *Store) Seed(ctx context.Context, accts []SeedAccount, sessionIdle time.Duration) error {
	for _, sc := range []*redis.Script{claimScript, createAccount, issueCode, payScript.script} {
		if err := sc.Load(ctx, s.rdb).Err(); err != nil {
			return wrap("loading the scripts", err)
		}
	}
	type check struct {
		what string
		cmd  redis.Cmder
		ok   func(any) bool
	}
	var checks []check
	pipe := s.rdb.Pipeline()
	for i := range accts {
		a := &accts[i]
		n := a.Account
		b, err := BucketOf(n.Account.ID)
		if err != nil {
			return fmt.Errorf("seeding: %w", err)
		}
		keys, args, err := s.createAccountCall(n)
		if err != nil {
			return fmt.Errorf("seeding: %w", err)
		}
		claim := pipe.EvalSha(ctx, claimScript.Hash(), []string{s.keys.Contact(n.ContactHash)}, n.Account.ID, 0)
		checks = append(checks, check{"claiming the contact", claim, func(v any) bool { return v == int64(1) }})
		sk := s.keys.Signup(b, n.SignupID)
		pipe.HSet(ctx, sk, "verified", "1")
		pipe.PExpire(ctx, sk, time.Minute)
		created := pipe.EvalSha(ctx, createAccount.Hash(), keys, args...)
		checks = append(checks, check{"creating the account", created, func(v any) bool { return v == "ok" }})
		if ttl := min(sessionIdle, a.Session.AbsoluteExpiry.Sub(a.Session.CreatedAt)); ttl > 0 {
			sb, err := BucketOfKind("sess", a.Session.ID)
			if err != nil {
				return fmt.Errorf("seeding: %w", err)
			}
			s.queueSession(ctx, pipe, sb, a.Session, a.RefreshHash, ttl)
		}
		if len(a.Codes) != len(a.Moves) {
			return errors.New("seeding: one movement per code")
		}
		for j := range a.Codes {
			keys, args, err := s.issueCall(&a.Codes[j])
			if err != nil {
				return fmt.Errorf("seeding: %w", err)
			}
			issued := pipe.EvalSha(ctx, issueCode.Hash(), keys, args...)
			checks = append(checks, check{"issuing a code", issued, func(v any) bool {
				r, _ := v.([]any)
				return len(r) > 0 && r[0] == "ok"
			}})
			m := &a.Moves[j]
			cb := m.CodeBucket
			payID, err := NewID("pay", cb)
			if err != nil {
				return err
			}
			keys, args = payScript.keysAndArgs(&payCall{k: s.keys, b: cb, m: m, paymentID: payID, idem: s.keys.Idem(cb, m.TerminalID, m.IdemKey)})
			moved := pipe.EvalSha(ctx, payScript.script.Hash(), keys, args...)
			checks = append(checks, check{"moving money", moved, func(v any) bool {
				r, _ := v.([]any)
				_, out, err := readResult(r)
				if err != nil {
					return false
				}
				o, err := parseOutcome(out, m, false)
				return err == nil && o.Approved
			}})
		}
	}
	_, err := pipe.Exec(ctx)
	if err != nil && !isRedisReply(err) {
		return wrap("seeding", err)
	}
	for _, c := range checks {
		v, err := c.cmd.(*redis.Cmd).Result()
		if err != nil || !c.ok(v) {
			return fmt.Errorf("seeding: %s: %v %v", c.what, v, err)
		}
	}
	return nil
}
