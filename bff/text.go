package bff

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/paycode/paycode/text"
)

// textDocument is one language of the catalogue as clients receive it
// (GET /v1/text/{lang}): every message's template by id, placeholders
// unexpanded. A client shows a problem by looking its code up here, the
// problem's detail as the fallback.
type textDocument struct {
	Lang     text.Lang          `json:"lang"`
	Messages map[text.ID]string `json:"messages"`
}

// textBody is a catalogue document, encoded once, and its ETag.
type textBody struct {
	lang text.Lang
	json []byte
	etag string
}

// textBodies are the catalogue documents by language. The catalogue is
// fixed at start-up (package text fills it in init), so they are built
// once.
var textBodies = buildTextBodies()

func buildTextBodies() map[string]textBody {
	out := make(map[string]textBody, len(text.Langs))
	for _, l := range text.Langs {
		doc := textDocument{Lang: l, Messages: map[text.ID]string{}}
		for _, e := range text.All() {
			doc.Messages[e.ID] = e.Template(l)
		}
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false) // templates hold "<access token>"; this is no HTML
		if err := enc.Encode(doc); err != nil {
			panic("bff: encoding the text catalogue: " + err.Error()) // strings only: cannot fail
		}
		sum := sha256.Sum256(b.Bytes())
		out[string(l)] = textBody{lang: l, json: b.Bytes(), etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
	}
	return out
}

// textFile serves the same documents outside the API, as /text/en.json
// and /text/ja.json: the PWA's service worker keeps them with the app
// shell, so the app speaks its language offline too (it never keeps
// anything under /v1). Like the shell, they are revalidated on every use.
func (s *Server) textFile(c *fiber.Ctx) error {
	name, ok := strings.CutSuffix(c.Params("file"), ".json")
	body, known := textBodies[name]
	if !ok || !known {
		return c.Next() // the static files, then the API's 404
	}
	return sendText(c, body, "no-cache")
}

// textCatalogue serves the message catalogue of one language. It is public
// (the same for everyone, no secret in it) and cacheable; the ETag lets a
// client revalidate it for free after a deployment.
func (s *Server) textCatalogue(c *fiber.Ctx) error {
	body, ok := textBodies[c.Params("lang")]
	if !ok {
		return problemText(fiber.StatusNotFound, codeNotFound, text.M(text.UnknownLanguage, "langs", langList()))
	}
	return sendText(c, body, "public, max-age=3600")
}

// sendText answers with one language's catalogue, or 304 when the
// client's copy is current.
func sendText(c *fiber.Ctx, body textBody, cacheControl string) error {
	c.Set(fiber.HeaderCacheControl, cacheControl)
	c.Set(fiber.HeaderContentLanguage, string(body.lang))
	c.Set(fiber.HeaderETag, body.etag)
	if match := c.Get(fiber.HeaderIfNoneMatch); match != "" && strings.Contains(match, body.etag) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Send(body.json)
}
