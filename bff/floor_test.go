package bff

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"net/http/httptest"
	"testing"

	"github.com/gofiber/fiber/v2"
)

// The floor: what the same harness costs with (almost) nothing of paycode
// in it, measured in the same run as BenchmarkIssueCode and BenchmarkRedeem
// so that their numbers can be read against it. BenchmarkFloorRedis is a
// bare Fiber handler doing one Redis round trip; BenchmarkFloorRedisES256
// adds one ES256 signature verification (a DPoP proof or a token costs
// about that each).
func BenchmarkFloorRedis(b *testing.B) { benchFloor(b, false) }

// BenchmarkFloorRedisES256 is the floor plus one ES256 verification.
func BenchmarkFloorRedisES256(b *testing.B) { benchFloor(b, true) }

func benchFloor(b *testing.B, verify bool) {
	e := newEnv(b, nil)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte("floor"))
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		b.Fatal(err)
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	rdb := e.st.Client()
	app.Get("/floor", func(c *fiber.Ctx) error {
		if verify && !ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig) {
			return fiber.ErrUnauthorized
		}
		if err := rdb.Ping(c.UserContext()).Err(); err != nil {
			return err
		}
		return c.SendString("ok")
	})
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		resp, err := app.Test(httptest.NewRequest("GET", "/floor", nil), 10_000)
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("floor: %v %v", resp, err)
		}
	}
}
