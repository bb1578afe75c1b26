package notify

import (
	"strings"
	"testing"
)

// The Standard Webhooks specification's own example (secret, id,
// timestamp and body), whose signature was computed independently with
// Python's hmac module: paycode signs as every Standard Webhooks library
// verifies.
func TestSignStandardVector(t *testing.T) {
	key, err := ParseWebhookSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := SignStandard([][]byte{key}, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("SignStandard = %q; want %q", got, want)
	}
	other, _ := ParseWebhookSecret("whsec_" + strings.Repeat("A", 32))
	two := SignStandard([][]byte{key, other}, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if f := strings.Fields(two); len(f) != 2 || f[0] != got {
		t.Errorf("two keys sign as %q; want the first key's signature, then the second's", two)
	}
}

func TestParseWebhookSecret(t *testing.T) {
	s, err := NewWebhookSecret()
	if err != nil {
		t.Fatal(err)
	}
	if k, err := ParseWebhookSecret(s); err != nil || len(k) != 32 {
		t.Fatalf("a new secret parses as %d bytes, %v", len(k), err)
	}
	for _, bad := range []string{"", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_", "whsec_not base64!", "whsec_" + strings.Repeat("A", 8)} {
		if _, err := ParseWebhookSecret(bad); err == nil {
			t.Errorf("ParseWebhookSecret(%q) accepted it", bad)
		}
	}
}
