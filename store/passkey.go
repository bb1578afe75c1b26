package store

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"
)

// The account's bound device and its passkey are one compact string
// (Keys.Passkey), written at sign-up and when a new device becomes active,
// and never changed in between. It keeps what verification needs of the
// passkey (id, public key, AAGUID, transports) and what the account shows
// of the device (label, creation time). What an assertion changes is in
// the account hash, where the assertion's script compares and writes it
// atomically: pc, the sign counter, and pf, the flags (UP 1, UV 2, BE 4,
// BS 8). Records written before issue 12 (the creds:, credctr: and
// devices: hashes, JSON) are still read, and an assertion on such an
// account still writes them; a new device replaces them with this form.
//
// Format, version 1: the byte 1, then each of credential id, public key,
// AAGUID, transports (joined by ','), device id, device label as a uvarint
// length and its bytes, then the device's creation time as a uvarint of
// Unix ms.

const passkeyVersion = 1

var errPasskeyFormat = errors.New("malformed passkey record")

// encodePasskey writes r (and the device's label and creation time) in
// the compact form.
func encodePasskey(r CredentialRecord, label string, deviceCreated time.Time) []byte {
	c := r.Credential
	transports := make([]string, 0, len(c.Transport))
	for _, t := range c.Transport {
		transports = append(transports, string(t))
	}
	out := []byte{passkeyVersion}
	for _, f := range [][]byte{c.ID, c.PublicKey, c.Authenticator.AAGUID, []byte(strings.Join(transports, ",")),
		[]byte(r.DeviceID), []byte(label)} {
		out = binary.AppendUvarint(out, uint64(len(f)))
		out = append(out, f...)
	}
	return binary.AppendUvarint(out, uint64(max(deviceCreated.UnixMilli(), 0)))
}

// passkeyFlags is the pf field's value of a credential's flags.
func passkeyFlags(f gowebauthn.CredentialFlags) int {
	n := 0
	for i, on := range []bool{f.UserPresent, f.UserVerified, f.BackupEligible, f.BackupState} {
		if on {
			n |= 1 << i
		}
	}
	return n
}

func flagsOf(n int) gowebauthn.CredentialFlags {
	return gowebauthn.CredentialFlags{UserPresent: n&1 != 0, UserVerified: n&2 != 0, BackupEligible: n&4 != 0, BackupState: n&8 != 0}
}

// decodedPasskey is a passkey record read back: the credential (without
// its counter, which the account hash holds) and the device's fields.
type decodedPasskey struct {
	rec           CredentialRecord
	label         string
	deviceCreated time.Time
}

func decodePasskey(accountID string, raw []byte) (decodedPasskey, error) {
	if len(raw) == 0 || raw[0] != passkeyVersion {
		return decodedPasskey{}, errPasskeyFormat
	}
	p := raw[1:]
	var fields [6][]byte
	for i := range fields {
		n, k := binary.Uvarint(p)
		if k <= 0 || uint64(len(p)-k) < n {
			return decodedPasskey{}, errPasskeyFormat
		}
		fields[i] = append([]byte(nil), p[k:k+int(n)]...)
		p = p[k+int(n):]
	}
	ms, k := binary.Uvarint(p)
	if k <= 0 || k != len(p) || len(fields[0]) == 0 {
		return decodedPasskey{}, errPasskeyFormat
	}
	c := gowebauthn.Credential{ID: fields[0], PublicKey: fields[1]}
	if len(fields[2]) > 0 {
		c.Authenticator.AAGUID = fields[2]
	}
	if len(fields[3]) > 0 {
		for _, t := range strings.Split(string(fields[3]), ",") {
			c.Transport = append(c.Transport, protocol.AuthenticatorTransport(t))
		}
	}
	created := time.UnixMilli(int64(ms)).UTC()
	return decodedPasskey{rec: CredentialRecord{Credential: c, AccountID: accountID, DeviceID: string(fields[4]), CreatedAt: created},
		label: string(fields[5]), deviceCreated: created}, nil
}

// recoveryTagLen is the length of a recovery code's tag in the account
// hash's rc field: ten codes stay within one small (listpack) field.
const recoveryTagLen = 6

// recoveryTag is what the account keeps of a recovery code's keyed hash:
// 48 bits of its SHA-256. A recovery needs the contact's OTP as well and is
// rate limited, and the tag is of a keyed hash, so 48 bits are plenty.
func recoveryTag(codeHash string) string {
	h := sha256.Sum256([]byte(codeHash))
	return string(h[:recoveryTagLen])
}

// recoveryTags joins the tags of the codes, the rc field's value.
func recoveryTags(hashes []string) (string, error) {
	var b strings.Builder
	for _, h := range hashes {
		b.WriteString(recoveryTag(h))
	}
	if b.Len() > 64 {
		return "", fmt.Errorf("storing recovery codes: %d codes do not fit in one small field", len(hashes))
	}
	return b.String(), nil
}
