package config

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) Getenv {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Env != Dev || c.Addr != ":8080" || c.AdminAddr != "127.0.0.1:9090" || c.PublicURL.String() != "http://localhost:8080" ||
		c.HasRedis() || c.RedisPrefix != "pc:" || c.BodyLimit != 65536 || c.ReadTimeout != 10*time.Second || c.ShutdownTimeout != 20*time.Second {
		t.Errorf("defaults = %+v", c)
	}
}

func TestValid(t *testing.T) {
	c, err := Load(env(map[string]string{
		"PAYCODE_ENV":                   "production",
		"PAYCODE_ADMIN_TOKEN":           strongToken,
		"PAYCODE_PUBLIC_URL":            "https://pay.example.com/",
		"PAYCODE_REDIS_ADDRS":           "10.0.0.1:7000, 10.0.0.2:7000",
		"PAYCODE_BODY_LIMIT":            "2048",
		"PAYCODE_SECRET":                strongSecret,
		"PAYCODE_SIGNING_KEYS":          "/etc/paycode/k2.pem, /etc/paycode/k1.pem",
		"PAYCODE_NOTIFY_WEBHOOK_URL":    "https://ops.example.com/notify",
		"PAYCODE_NOTIFY_WEBHOOK_SECRET": strongWebhookSecret,
		"PAYCODE_RP_ORIGINS":            "https://pay.example.com,android:apk-key-hash:abc",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.RPID != "pay.example.com" || len(c.RPOrigins) != 2 || len(c.SigningKeyFiles) != 2 || c.DevSecret {
		t.Errorf("passkey/secret config = %+v", c)
	}
	if c.PublicURL.String() != "https://pay.example.com" || len(c.RedisAddrs) != 2 || c.RedisAddrs[1] != "10.0.0.2:7000" || c.BodyLimit != 2048 {
		t.Errorf("config = %+v", c)
	}
}

// Every problem is reported at once, each naming its variable.
func TestEveryProblemNamed(t *testing.T) {
	_, err := Load(env(map[string]string{
		"PAYCODE_ENV":                       "staging",
		"PAYCODE_ADDR":                      "8080",
		"PAYCODE_ADMIN_ADDR":                "localhost:99999",
		"PAYCODE_ADMIN_TOKEN":               "short",
		"PAYCODE_PUBLIC_URL":                "ftp://x",
		"PAYCODE_REDIS_URL":                 "http://user:hunter2@redis:6379",
		"PAYCODE_REDIS_ADDRS":               "a:1,nonsense",
		"PAYCODE_REDIS_TLS":                 "maybe",
		"PAYCODE_REDIS_PREFIX":              "{x}",
		"PAYCODE_BODY_LIMIT":                "12",
		"PAYCODE_READ_TIMEOUT":              "soon",
		"PAYCODE_WRITE_TIMEOUT":             "-1s",
		"PAYCODE_IDLE_TIMEOUT":              "0s",
		"PAYCODE_SHUTDOWN_TIMEOUT":          "x",
		"PAYCODE_LOG_LEVEL":                 "loud",
		"PAYCODE_TRUSTED_PROXIES":           "10.0.0.0/8,proxy",
		"PAYCODE_SECRET":                    "short",
		"PAYCODE_RP_ORIGINS":                "https://a.example/path",
		"PAYCODE_PASSKEY_DEVICE_BOUND_ONLY": "perhaps",
		"PAYCODE_PASSKEY_AAGUIDS":           "not-a-uuid",
		"PAYCODE_ACCESS_TOKEN_TTL":          "1h",
		"PAYCODE_SESSION_IDLE":              "48h",
		"PAYCODE_NOTIFY_WEBHOOK_URL":        "https://ops.example/n",
		"PAYCODE_NOTIFY_WEBHOOK_SECRET":     "short",
		"PAYCODE_ANDROID_ASSETLINKS":        "com.example",
		"PAYCODE_COUNTRY_HEADER":            "CF IPCountry",
	}))
	if err == nil {
		t.Fatal("Load accepted a bad configuration")
	}
	msg := err.Error()
	for _, want := range []string{
		"PAYCODE_ENV:", "PAYCODE_ADDR:", "PAYCODE_ADMIN_ADDR:", "PAYCODE_ADMIN_TOKEN:", "PAYCODE_PUBLIC_URL:",
		"PAYCODE_REDIS_URL:", "PAYCODE_REDIS_URL and PAYCODE_REDIS_ADDRS", "PAYCODE_REDIS_ADDRS: \"nonsense\"",
		"PAYCODE_REDIS_TLS:", "PAYCODE_REDIS_PREFIX:", "PAYCODE_BODY_LIMIT:", "PAYCODE_READ_TIMEOUT:",
		"PAYCODE_WRITE_TIMEOUT:", "PAYCODE_IDLE_TIMEOUT:", "PAYCODE_SHUTDOWN_TIMEOUT:", "PAYCODE_LOG_LEVEL:",
		"PAYCODE_TRUSTED_PROXIES:", "PAYCODE_SECRET:", "PAYCODE_RP_ORIGINS:", "PAYCODE_PASSKEY_DEVICE_BOUND_ONLY:",
		"PAYCODE_PASSKEY_AAGUIDS:", "PAYCODE_ACCESS_TOKEN_TTL:", "PAYCODE_SESSION_IDLE:", "PAYCODE_NOTIFY_WEBHOOK_SECRET:",
		"PAYCODE_ANDROID_ASSETLINKS:", "PAYCODE_COUNTRY_HEADER:",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not name %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "hunter2") {
		t.Errorf("error echoes the Redis password:\n%s", msg)
	}
}

// Production refuses every dev default that would be unsafe there.
func TestProductionRequirements(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no redis", map[string]string{"PAYCODE_ADMIN_TOKEN": strongToken, "PAYCODE_PUBLIC_URL": "https://p.example"}, "PAYCODE_REDIS_URL or PAYCODE_REDIS_ADDRS: required in production"},
		{"no admin token", map[string]string{"PAYCODE_REDIS_URL": "redis://r:6379", "PAYCODE_PUBLIC_URL": "https://p.example"}, "PAYCODE_ADMIN_TOKEN: required"},
		{"no public url", map[string]string{"PAYCODE_REDIS_URL": "redis://r:6379", "PAYCODE_ADMIN_TOKEN": strongToken}, "PAYCODE_PUBLIC_URL: required"},
		{"http public url", map[string]string{"PAYCODE_REDIS_URL": "redis://r:6379", "PAYCODE_ADMIN_TOKEN": strongToken, "PAYCODE_PUBLIC_URL": "http://p.example"}, "must be https in production"},
		{"sentinel without addrs", map[string]string{"PAYCODE_ENV": "dev", "PAYCODE_REDIS_SENTINEL_MASTER": "mymaster"}, "PAYCODE_REDIS_SENTINEL_MASTER"},
		{"public url with path", map[string]string{"PAYCODE_ENV": "dev", "PAYCODE_PUBLIC_URL": "http://x/api"}, "bare origin"},
		{"same listeners", map[string]string{"PAYCODE_ENV": "dev", "PAYCODE_ADDR": ":9000", "PAYCODE_ADMIN_ADDR": ":9000"}, "must differ"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := tc.env["PAYCODE_ENV"]; !ok {
				tc.env["PAYCODE_ENV"] = "production"
			}
			_, err := Load(env(tc.env))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load error = %v; want it to contain %q", err, tc.want)
			}
		})
	}
}

// The country header is believed only from a configured proxy: setting it
// without PAYCODE_TRUSTED_PROXIES would let any client choose its country,
// so it is refused at start-up.
func TestCountryHeaderNeedsProxies(t *testing.T) {
	_, err := Load(env(map[string]string{"PAYCODE_COUNTRY_HEADER": "CF-IPCountry"}))
	if err == nil || !strings.Contains(err.Error(), "PAYCODE_COUNTRY_HEADER: needs PAYCODE_TRUSTED_PROXIES") {
		t.Fatalf("Load without proxies = %v", err)
	}
	c, err := Load(env(map[string]string{"PAYCODE_COUNTRY_HEADER": "CF-IPCountry", "PAYCODE_TRUSTED_PROXIES": "10.0.0.0/8"}))
	if err != nil || c.CountryHeader != "CF-IPCountry" {
		t.Fatalf("Load with proxies = %v, %v", c, err)
	}
	if c, _ := Load(env(nil)); c.CountryHeader != "" {
		t.Errorf("default country header = %q; want none", c.CountryHeader)
	}
}

// The replication settings: WAIT is a deliberate choice, recorded as set
// even when it is 0, and impossible on the embedded store.
func TestRedisWaitSettings(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.RedisWaitReplicas != 0 || c.RedisWaitReplicasSet || c.RedisWaitTimeout != 250*time.Millisecond || c.RedisTimeout != 500*time.Millisecond {
		t.Errorf("defaults: wait %d (set %v), wait timeout %v, timeout %v", c.RedisWaitReplicas, c.RedisWaitReplicasSet, c.RedisWaitTimeout, c.RedisTimeout)
	}
	c, err = Load(env(map[string]string{"PAYCODE_REDIS_URL": "redis://r:6379/0", "PAYCODE_REDIS_WAIT_REPLICAS": "0"}))
	if err != nil || !c.RedisWaitReplicasSet || c.RedisWaitReplicas != 0 {
		t.Errorf("explicit 0: %+v %v", c, err)
	}
	c, err = Load(env(map[string]string{"PAYCODE_REDIS_URL": "redis://r:6379/0", "PAYCODE_REDIS_WAIT_REPLICAS": "1",
		"PAYCODE_REDIS_WAIT_TIMEOUT": "100ms", "PAYCODE_REDIS_TIMEOUT": "400ms"}))
	if err != nil || c.RedisWaitReplicas != 1 || c.RedisWaitTimeout != 100*time.Millisecond || c.RedisTimeout != 400*time.Millisecond {
		t.Errorf("wait 1: %+v %v", c, err)
	}
	for _, bad := range []map[string]string{
		{"PAYCODE_REDIS_WAIT_REPLICAS": "1"}, // embedded store
		{"PAYCODE_REDIS_URL": "redis://r:6379/0", "PAYCODE_REDIS_WAIT_REPLICAS": "-1"},
		{"PAYCODE_REDIS_URL": "redis://r:6379/0", "PAYCODE_REDIS_WAIT_REPLICAS": "one"},
		{"PAYCODE_REDIS_URL": "redis://r:6379/0", "PAYCODE_REDIS_TIMEOUT": "30s"},
	} {
		if _, err := Load(env(bad)); err == nil || !strings.Contains(err.Error(), "PAYCODE_REDIS_") {
			t.Errorf("%v: err = %v, want a PAYCODE_REDIS_ problem", bad, err)
		}
	}
}

// Generated-looking values for the production tests.
const (
	strongToken         = "7c1f0a9e3b5d42e8a6c0f9b1d3e5a7c9"
	strongSecret        = "e4b29c7a1f03d85b6a9e2c4f70d1b8a3"
	strongWebhookSecret = "9a8b7c6d5e4f30211f2e3d4c5b6a7980"
)

// Configuration an attacker profits from is refused at start-up (issue 13
// item 6): dev mode by omission on a real host (it serves every OTP at
// /dev/outbox), placeholder secrets and tokens in production, and a
// plain-http webhook carrying OTPs in production.
func TestConfigurationRefusals(t *testing.T) {
	prod := func(over map[string]string) map[string]string {
		m := map[string]string{
			"PAYCODE_ENV":                   "production",
			"PAYCODE_ADMIN_TOKEN":           strongToken,
			"PAYCODE_PUBLIC_URL":            "https://pay.example.com",
			"PAYCODE_REDIS_URL":             "redis://r:6379",
			"PAYCODE_SECRET":                strongSecret,
			"PAYCODE_SIGNING_KEYS":          "/etc/paycode/k1.pem",
			"PAYCODE_NOTIFY_WEBHOOK_URL":    "https://ops.example.com/notify",
			"PAYCODE_NOTIFY_WEBHOOK_SECRET": strongWebhookSecret,
		}
		for k, v := range over {
			if v == "" {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	if _, err := Load(env(prod(nil))); err != nil {
		t.Fatalf("the baseline production configuration is refused: %v", err)
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"dev by omission on a public host", map[string]string{"PAYCODE_PUBLIC_URL": "https://pay.example.com"}, "PAYCODE_ENV: must be set"},
		{"dev by omission on a LAN address", map[string]string{"PAYCODE_PUBLIC_URL": "http://192.168.1.20:8080"}, "PAYCODE_ENV: must be set"},
		{"dev by a blank PAYCODE_ENV (PAYCODE_ENV= in a compose file) on a public host", map[string]string{"PAYCODE_ENV": " ", "PAYCODE_PUBLIC_URL": "https://pay.example.com"}, "PAYCODE_ENV: must be set"},
		{"all-one-character admin token", prod(map[string]string{"PAYCODE_ADMIN_TOKEN": strings.Repeat("a", 32)}), "PAYCODE_ADMIN_TOKEN: too guessable"},
		{"two-character admin token", prod(map[string]string{"PAYCODE_ADMIN_TOKEN": strings.Repeat("ab", 20)}), "PAYCODE_ADMIN_TOKEN: too guessable"},
		{"all-one-character secret", prod(map[string]string{"PAYCODE_SECRET": strings.Repeat("a", 32)}), "PAYCODE_SECRET: too guessable"},
		{"repeated word secret", prod(map[string]string{"PAYCODE_SECRET": strings.Repeat("changeme", 4)}), "PAYCODE_SECRET: too guessable"},
		{"placeholder webhook secret", prod(map[string]string{"PAYCODE_NOTIFY_WEBHOOK_SECRET": strings.Repeat("w", 32)}), "PAYCODE_NOTIFY_WEBHOOK_SECRET: too guessable"},
		{"plain-http webhook", prod(map[string]string{"PAYCODE_NOTIFY_WEBHOOK_URL": "http://ops.example.com/notify"}), "PAYCODE_NOTIFY_WEBHOOK_URL: must be https in production"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(env(tc.env))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load error = %v; want it to contain %q", err, tc.want)
			}
		})
	}
	// What stays allowed: dev by default on loopback, and explicitly on a
	// LAN address; placeholders in dev.
	for _, ok := range []map[string]string{
		{"PAYCODE_PUBLIC_URL": "http://localhost:8080"},
		{"PAYCODE_PUBLIC_URL": "http://127.0.0.1:8080"},
		{"PAYCODE_PUBLIC_URL": "http://[::1]:8080"},
		{"PAYCODE_ENV": "dev", "PAYCODE_PUBLIC_URL": "http://192.168.1.20:8080", "PAYCODE_ADMIN_TOKEN": strings.Repeat("a", 32)},
	} {
		if _, err := Load(env(ok)); err != nil {
			t.Errorf("%v refused: %v", ok, err)
		}
	}
}
