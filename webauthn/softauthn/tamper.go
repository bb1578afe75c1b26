package softauthn

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// ErrNoSuchField is returned by Tamper when the response has no such member, or it is not a base64url string.
var ErrNoSuchField = errors.New("softauthn: no such response field")

// Tamper returns responseJSON (a RegistrationResponseJSON or AuthenticationResponseJSON) with the member field of
// its "response" object ("clientDataJSON", "authenticatorData", "signature", "attestationObject", "userHandle",
// "publicKey") decoded from base64url, passed through mutate, and encoded again. mutate gets its own copy of the
// bytes; a nil result encodes as the empty string. Everything else is left as it was, so signatures no longer
// cover what they claim to. It returns ErrNoSuchField, or an error when responseJSON is not a response object.
func Tamper(responseJSON []byte, field string, mutate func([]byte) []byte) ([]byte, error) {
	var top map[string]json.RawMessage

	if err := json.Unmarshal(responseJSON, &top); err != nil || top == nil {
		return nil, fmt.Errorf("softauthn: tamper: not a response object: %v", err)
	}

	var resp map[string]json.RawMessage

	if err := json.Unmarshal(top["response"], &resp); err != nil || resp == nil {
		return nil, fmt.Errorf("softauthn: tamper: no response object: %v", err)
	}

	raw, ok := resp[field]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNoSuchField, field)
	}

	var encoded string

	if err := json.Unmarshal(raw, &encoded); err != nil {
		return nil, fmt.Errorf("%w: %q is not a string", ErrNoSuchField, field)
	}

	decoded, err := decodeB64URL(encoded)
	if err != nil {
		return nil, fmt.Errorf("%w: %q is not base64url", ErrNoSuchField, field)
	}

	if resp[field], err = json.Marshal(encodeB64URL(mutate(slices.Clone(decoded)))); err != nil {
		return nil, fmt.Errorf("softauthn: tamper: %w", err)
	}

	if top["response"], err = json.Marshal(resp); err != nil {
		return nil, fmt.Errorf("softauthn: tamper: %w", err)
	}

	out, err := json.Marshal(top)
	if err != nil {
		return nil, fmt.Errorf("softauthn: tamper: %w", err)
	}

	return out, nil
}

// FlipLastByte is a mutate function for Tamper that inverts the bits of the last byte (a broken signature, a
// changed counter byte, a different clientDataJSON).
func FlipLastByte(b []byte) []byte {
	if len(b) > 0 {
		b[len(b)-1] ^= 0xff
	}

	return b
}
