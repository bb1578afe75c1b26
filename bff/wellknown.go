package bff

import (
	"strings"

	"github.com/gofiber/fiber/v2"
)

// wellKnown serves the documents platforms fetch to trust this relying
// party: the token signing keys, Android Digital Asset Links and Apple's
// app-site association (native apps may use our passkeys), and the WebAuthn
// related origins. All come from configuration.
func (s *Server) wellKnownRoutes() {
	s.app.Get("/.well-known/jwks.json", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		c.Set(fiber.HeaderCacheControl, "public, max-age=300")
		return c.Send(s.jwks)
	})
	s.app.Get("/.well-known/assetlinks.json", func(c *fiber.Ctx) error {
		statements := []fiber.Map{}
		for _, entry := range s.cfg.AndroidAssetLinks {
			pkg, fp, _ := strings.Cut(entry, "=")
			statements = append(statements, fiber.Map{
				"relation": []string{"delegate_permission/common.handle_all_urls", "delegate_permission/common.get_login_creds"},
				"target":   fiber.Map{"namespace": "android_app", "package_name": pkg, "sha256_cert_fingerprints": []string{fp}},
			})
		}
		c.Set(fiber.HeaderCacheControl, "public, max-age=3600")
		return c.JSON(statements)
	})
	s.app.Get("/.well-known/apple-app-site-association", func(c *fiber.Ctx) error {
		apps := s.cfg.AppleAppIDs
		if apps == nil {
			apps = []string{}
		}
		c.Set(fiber.HeaderCacheControl, "public, max-age=3600")
		return c.JSON(fiber.Map{"webcredentials": fiber.Map{"apps": apps}})
	})
	s.app.Get("/.well-known/webauthn", func(c *fiber.Ctx) error {
		origins := []string{}
		for _, o := range s.cfg.RPOrigins {
			if strings.HasPrefix(o, "http") {
				origins = append(origins, o)
			}
		}
		c.Set(fiber.HeaderCacheControl, "public, max-age=3600")
		return c.JSON(fiber.Map{"origins": origins})
	})
}
