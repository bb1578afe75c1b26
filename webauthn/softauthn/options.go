package softauthn

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// creationOptions is the part of PublicKeyCredentialCreationOptionsJSON the authenticator acts on.
type creationOptions struct {
	RP struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"rp"`
	User struct {
		ID          *string `json:"id"`
		Name        string  `json:"name"`
		DisplayName string  `json:"displayName"`
	} `json:"user"`
	Challenge          *string                    `json:"challenge"`
	PubKeyCredParams   []credentialParameter      `json:"pubKeyCredParams"`
	ExcludeCredentials []credentialDescriptor     `json:"excludeCredentials"`
	Extensions         map[string]json.RawMessage `json:"extensions"`
}

// requestOptions is the part of PublicKeyCredentialRequestOptionsJSON the authenticator acts on.
type requestOptions struct {
	Challenge        *string                `json:"challenge"`
	RPID             string                 `json:"rpId"`
	AllowCredentials []credentialDescriptor `json:"allowCredentials"`
}

type credentialParameter struct {
	Type string `json:"type"`
	Alg  int    `json:"alg"`
}

type credentialDescriptor struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// unwrapOptions returns the inner options object of {"publicKey":{...}}, or the input itself when it has no
// "publicKey" member.
func unwrapOptions(data []byte) ([]byte, error) {
	var top map[string]json.RawMessage

	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("%w: not a JSON object: %v", ErrMalformedOptions, err)
	}

	if top == nil {
		return nil, fmt.Errorf("%w: options are null", ErrMalformedOptions)
	}

	inner, ok := top["publicKey"]
	if !ok {
		return data, nil
	}

	if trimmed := bytes.TrimSpace(inner); len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, fmt.Errorf("%w: publicKey is not an object", ErrMalformedOptions)
	}

	return inner, nil
}

func parseCreationOptions(data []byte) (*creationOptions, error) {
	inner, err := unwrapOptions(data)
	if err != nil {
		return nil, err
	}

	var o creationOptions

	if err = json.Unmarshal(inner, &o); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedOptions, err)
	}

	if err = checkChallenge(o.Challenge); err != nil {
		return nil, err
	}

	if o.User.ID == nil {
		return nil, fmt.Errorf("%w: user.id is missing", ErrMalformedOptions)
	}

	if handle, err := decodeB64URL(*o.User.ID); err != nil || len(handle) == 0 || len(handle) > 64 {
		return nil, fmt.Errorf("%w: user.id must be base64url of 1 to 64 bytes", ErrMalformedOptions)
	}

	for _, d := range o.ExcludeCredentials {
		if _, err = decodeB64URL(d.ID); err != nil {
			return nil, fmt.Errorf("%w: excludeCredentials id is not base64url", ErrMalformedOptions)
		}
	}

	return &o, nil
}

func parseRequestOptions(data []byte) (*requestOptions, error) {
	inner, err := unwrapOptions(data)
	if err != nil {
		return nil, err
	}

	var o requestOptions

	if err = json.Unmarshal(inner, &o); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedOptions, err)
	}

	if err = checkChallenge(o.Challenge); err != nil {
		return nil, err
	}

	for _, d := range o.AllowCredentials {
		if _, err = decodeB64URL(d.ID); err != nil {
			return nil, fmt.Errorf("%w: allowCredentials id is not base64url", ErrMalformedOptions)
		}
	}

	return &o, nil
}

// checkChallenge requires a non-empty base64url challenge. The string itself is echoed into clientDataJSON as it
// was given.
func checkChallenge(challenge *string) error {
	if challenge == nil {
		return fmt.Errorf("%w: challenge is missing", ErrMalformedOptions)
	}

	if raw, err := decodeB64URL(*challenge); err != nil || len(raw) == 0 {
		return fmt.Errorf("%w: challenge must be non-empty base64url", ErrMalformedOptions)
	}

	return nil
}

// decodeB64URL decodes base64url with or without padding, as go-webauthn accepts it.
func decodeB64URL(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

func encodeB64URL(b []byte) string {
	return base64.RawURLEncoding.EncodeToString(b)
}

// rpIDOrDefault returns rpID, or the host of origin when rpID is empty, as a browser defaults it to the origin's
// effective domain.
func rpIDOrDefault(rpID, origin string) (string, error) {
	if rpID != "" {
		return rpID, nil
	}

	u, err := url.Parse(origin)
	if err != nil || u.Hostname() == "" {
		return "", fmt.Errorf("%w: no rp id given and origin %q has no host", ErrMalformedOptions, origin)
	}

	return u.Hostname(), nil
}

// wantsCredProps reports whether the creation options request the credProps extension.
func (o *creationOptions) wantsCredProps() bool {
	raw, ok := o.Extensions["credProps"]
	if !ok {
		return false
	}

	var v bool

	return json.Unmarshal(raw, &v) == nil && v
}
