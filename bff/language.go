package bff

import (
	"context"
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/text"
)

// An account has a language: the one its notifications (codes, security
// notices, cancel links) are written in. It is chosen at sign-up (the
// member "lang" of POST /v1/signup/contact, else the request's
// Accept-Language) and changed with PUT /v1/me/language. Problem details
// follow each request's Accept-Language instead: they answer whoever asks.

// chosenLang is the language a client chose explicitly (a "lang" member),
// else the one its Accept-Language prefers (English when it names none we
// have). A "lang" we do not have is refused, never silently replaced.
func chosenLang(c *fiber.Ctx, member string) (text.Lang, error) {
	if member != "" {
		l, ok := text.Parse(member)
		if !ok {
			return "", problemText(fiber.StatusBadRequest, codeMalformed, text.M(text.LangUnknown, "langs", langList())).about("lang")
		}
		return l, nil
	}
	return text.Negotiate(c.Get(fiber.HeaderAcceptLanguage)), nil
}

// langOf is the account's notification language.
func langOf(acct *store.Account) text.Lang {
	if l, ok := text.Parse(acct.Lang); ok {
		return l
	}
	return text.Default
}

// accountLang reads an account's language; a failed read means the
// default (a message in English beats no message).
func (s *Server) accountLang(ctx context.Context, accountID string) text.Lang {
	acct, err := s.store.Account(ctx, accountID)
	if err != nil {
		return text.Default
	}
	return langOf(acct)
}

func langList() string {
	out := ""
	for i, l := range text.Langs {
		if i > 0 {
			out += ", "
		}
		out += string(l)
	}
	return out
}

// setLanguage changes the language of the account's notifications.
func (s *Server) setLanguage(c *fiber.Ctx) error {
	var req struct {
		Lang string `json:"lang"`
	}
	if err := decodeExactJSON(c, &req); err != nil {
		return err
	}
	if req.Lang == "" {
		return missing("lang")
	}
	l, err := chosenLang(c, req.Lang)
	if err != nil {
		return err
	}
	sess, _ := sessionOf(c)
	if err := s.store.SetAccountLang(c.UserContext(), sess.AccountID, string(l)); errors.Is(err, store.ErrNotFound) {
		return accountNotFound()
	} else if err != nil {
		return err
	}
	s.audit(c, "account.language", sess.AccountID, sess.DeviceID, map[string]string{"lang": string(l)})
	return c.JSON(fiber.Map{"lang": l})
}
