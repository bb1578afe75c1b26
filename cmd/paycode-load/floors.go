package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"

	"github.com/paycode/paycode/store"
)

// The floors: what each measured path would cost if paycode did nothing
// but the work its path cannot avoid, served by a bare Fiber app against
// the same Redis, with the same go-redis client options (store.Open), in a
// process pinned like the server. Each path is measured next to its floor
// in the same run and its ratio is reported.
//
//   - POST /floor/redeem: one Redis round trip (GET). Redemption's floor.
//   - POST /floor/issue: two ES256 verifications (the access token in
//     Authorization and the DPoP proof) and one SET. Issuance's floor.
//   - POST /floor/login/start (one SET of a challenge) and
//     POST /floor/login/finish (GETDEL of it and one ES256 verification of a
//     signature over it): a login is both, one verification and two round
//     trips. Login's floor.
//
// The floor server's keys begin with floorPrefix and expire within a
// minute; it never writes anything else.
const floorPrefix = "paycode-load:floor:"

// floorTTL bounds every key the floor server writes.
const floorTTL = time.Minute

// floorKey is the ES256 key the load side signs floor requests with; the
// floor server is given its public half (PUT /floor/key, X||Y in
// base64url) before the first measured request.
type floorKey struct {
	priv *ecdsa.PrivateKey
	// token is a compact ES256 JWS signed once, like a customer's access
	// token, sent with every issuance floor request.
	token string
}

func newFloorKey() (*floorKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	k := &floorKey{priv: priv}
	if k.token, err = k.sign(`{"typ":"at+jwt","alg":"ES256"}`, fmt.Sprintf(`{"sub":"floor","exp":%d}`, time.Now().Add(time.Hour).Unix())); err != nil {
		return nil, err
	}
	return k, nil
}

// public is the key's X||Y in base64url.
func (k *floorKey) public() string {
	b := make([]byte, 64)
	k.priv.X.FillBytes(b[:32])
	k.priv.Y.FillBytes(b[32:])
	return base64.RawURLEncoding.EncodeToString(b)
}

// sign returns a compact JWS of header and payload, as a client signs a
// DPoP proof (SHA-256, then P-256 with r||s).
func (k *floorKey) sign(header, payload string) (string, error) {
	input := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	sig, err := k.signRaw([]byte(input))
	if err != nil {
		return "", err
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

func (k *floorKey) signRaw(msg []byte) ([]byte, error) {
	digest := sha256.Sum256(msg)
	r, s, err := ecdsa.Sign(rand.Reader, k.priv, digest[:])
	if err != nil {
		return nil, err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return sig, nil
}

// parsePublic reads a key as public gives it.
func parsePublic(s string) (*ecdsa.PublicKey, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 64 {
		return nil, errors.New("not a P-256 public key (X||Y, base64url)")
	}
	pub := &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(b[:32]), Y: new(big.Int).SetBytes(b[32:])}
	if !pub.Curve.IsOnCurve(pub.X, pub.Y) {
		return nil, errors.New("not a point of P-256")
	}
	return pub, nil
}

// verifyRaw checks an r||s ES256 signature over msg.
func verifyRaw(pub *ecdsa.PublicKey, msg, sig []byte) bool {
	if len(sig) != 64 {
		return false
	}
	digest := sha256.Sum256(msg)
	return ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
}

// verifyJWS checks a compact ES256 JWS (no claim checks: the floor
// counts the signature, not paycode's rules).
func verifyJWS(pub *ecdsa.PublicKey, jws string) bool {
	dot := strings.LastIndexByte(jws, '.')
	if dot < 0 {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(jws[dot+1:])
	return err == nil && verifyRaw(pub, []byte(jws[:dot]), sig)
}

// floorApp is the floor server's Fiber app.
func floorApp(rdb redis.UniversalClient) *fiber.App {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	ok := []byte(`{"ok":true}`)
	var key atomic.Pointer[ecdsa.PublicKey]
	app.Get("/floor/ready", func(c *fiber.Ctx) error { return c.Send(ok) })
	app.Put("/floor/key", func(c *fiber.Ctx) error {
		pub, err := parsePublic(string(c.Body()))
		if err != nil {
			return fiber.NewError(fiber.StatusBadRequest, err.Error())
		}
		key.Store(pub)
		return c.Send(ok)
	})
	app.Post("/floor/redeem", func(c *fiber.Ctx) error {
		if err := rdb.Get(c.UserContext(), floorPrefix+"redeem").Err(); err != nil {
			return err
		}
		c.Status(fiber.StatusCreated)
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(ok)
	})
	app.Post("/floor/issue", func(c *fiber.Ctx) error {
		token, _ := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "DPoP ")
		proof := c.Get("DPoP")
		pub := key.Load()
		if pub == nil || !verifyJWS(pub, token) || !verifyJWS(pub, proof) {
			return fiber.ErrUnauthorized
		}
		jti := sha256.Sum256([]byte(proof))
		if err := rdb.SetNX(c.UserContext(), floorPrefix+"jti:"+hex.EncodeToString(jti[:16]), 1, floorTTL).Err(); err != nil {
			return err
		}
		c.Status(fiber.StatusCreated)
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(ok)
	})
	app.Post("/floor/login/start", func(c *fiber.Ctx) error {
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			return err
		}
		id, challenge := hex.EncodeToString(b[:12]), base64.RawURLEncoding.EncodeToString(b[:])
		if err := rdb.Set(c.UserContext(), floorPrefix+"chal:"+id, challenge, floorTTL).Err(); err != nil {
			return err
		}
		return c.JSON(fiber.Map{"login_id": id, "challenge": challenge})
	})
	app.Post("/floor/login/finish", func(c *fiber.Ctx) error {
		var req struct {
			LoginID   string `json:"login_id"`
			Signature []byte `json:"signature"`
		}
		if err := c.BodyParser(&req); err != nil {
			return fiber.ErrBadRequest
		}
		challenge, err := rdb.GetDel(c.UserContext(), floorPrefix+"chal:"+req.LoginID).Result()
		if errors.Is(err, redis.Nil) {
			return fiber.ErrUnauthorized
		} else if err != nil {
			return err
		}
		if pub := key.Load(); pub == nil || !verifyRaw(pub, []byte(challenge), req.Signature) {
			return fiber.ErrUnauthorized
		}
		return c.Send(ok)
	})
	return app
}

// serveFloors is the -serve-floors mode: the floor server on addr until
// ctx ends.
func serveFloors(ctx context.Context, addr, redisURL string, stderr io.Writer) error {
	st, err := store.Open(ctx, store.Options{URL: redisURL})
	if err != nil {
		return err
	}
	defer st.Close()
	rdb := st.Client()
	if err := rdb.Set(ctx, floorPrefix+"redeem", "1", 0).Err(); err != nil {
		return err
	}
	defer rdb.Del(context.Background(), floorPrefix+"redeem")
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	app := floorApp(rdb)
	go func() {
		<-ctx.Done()
		_ = app.ShutdownWithTimeout(5 * time.Second)
	}()
	fmt.Fprintf(stderr, "paycode-load: floor server on %s\n", ln.Addr())
	return app.Listener(ln)
}

// floorServer is the floor server the load side started as a child
// process (or, with -floor-url, one that runs already).
type floorServer struct {
	url    string
	cmd    *exec.Cmd
	exited chan struct{} // closed when the child has exited
}

// startFloorServer runs this program again with -serve-floors, under
// `taskset -c cpus` when cpus is set, and waits until it answers.
func startFloorServer(ctx context.Context, o *options, key *floorKey, stderr io.Writer) (*floorServer, error) {
	if o.floorURL != "" {
		fs := &floorServer{url: o.floorURL}
		if err := fs.waitReady(ctx, nil); err != nil {
			return nil, err
		}
		return fs, fs.setKey(ctx, key)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{self, "-serve-floors", "-floor-addr", o.floorAddr, "-redis", o.redisURL}
	if o.serverCPUs != "" {
		args = append([]string{"taskset", "-c", o.serverCPUs}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the floor server (%s): %w", strings.Join(args, " "), err)
	}
	fs := &floorServer{url: "http://" + o.floorAddr, cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(fs.exited) }()
	err = fs.waitReady(ctx, fs.exited)
	if err == nil {
		err = fs.setKey(ctx, key)
	}
	if err != nil {
		fs.stop()
		return nil, err
	}
	return fs, nil
}

// setKey gives the floor server the key's public half.
func (fs *floorServer) setKey(ctx context.Context, key *floorKey) error {
	req, err := http.NewRequestWithContext(ctx, "PUT", fs.url+"/floor/key", strings.NewReader(key.public()))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("giving the floor server its key: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("giving the floor server its key: HTTP %d", resp.StatusCode)
	}
	return nil
}

// waitReady polls GET /floor/ready for up to 10 s, or until the child
// exits.
func (fs *floorServer) waitReady(ctx context.Context, exited <-chan struct{}) error {
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", fs.url+"/floor/ready", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the floor server at %s did not answer within 10 s", fs.url)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-exited:
			return errors.New("the floor server exited (see its message above)")
		case <-tick.C:
		}
	}
}

// stop ends a child floor server (by its own pid) and waits for it.
func (fs *floorServer) stop() {
	if fs.cmd == nil || fs.cmd.Process == nil {
		return
	}
	_ = fs.cmd.Process.Signal(os.Interrupt)
	select {
	case <-fs.exited:
	case <-time.After(5 * time.Second):
		_ = fs.cmd.Process.Kill()
		<-fs.exited
	}
}

// floorRedeemOp is redemption's floor: a request shaped like a payment
// (same headers and body) to a handler doing one Redis GET.
func floorRedeemOp(c *client, fs *floorServer, t *terminal, amount int64, currency string) operation {
	return func(ctx, _ context.Context) (sample, bool) {
		token, err := t.accessToken(ctx)
		if err != nil {
			return sample{errKey: "terminal token: " + errorKeyOf(err)}, true
		}
		h := map[string]string{"Authorization": "Bearer " + token, "Idempotency-Key": newIdempotencyKey()}
		body := map[string]any{"code": "00000000000000000000", "amount": amount, "currency": currency, "order_ref": "load-" + newIdempotencyKey()[:8]}
		start := time.Now()
		r, err := c.do(ctx, "POST", fs.url+"/floor/redeem", body, h)
		return floorSample(start, r, err, http.StatusCreated), true
	}
}

// floorIssueOp is issuance's floor: a token and a fresh signed proof, as a
// phone sends, to a handler verifying both and doing one SET.
func floorIssueOp(c *client, fs *floorServer, k *floorKey) operation {
	return func(ctx, _ context.Context) (sample, bool) {
		var jti [16]byte
		_, _ = rand.Read(jti[:])
		proof, err := k.sign(`{"typ":"dpop+jwt","alg":"ES256"}`,
			fmt.Sprintf(`{"jti":"%x","htm":"POST","htu":"%s/floor/issue","iat":%d}`, jti, fs.url, time.Now().Unix()))
		if err != nil {
			return sample{errKey: "signing"}, true
		}
		h := map[string]string{"Authorization": "DPoP " + k.token, "DPoP": proof}
		start := time.Now()
		r, err := c.do(ctx, "POST", fs.url+"/floor/issue", map[string]any{}, h)
		return floorSample(start, r, err, http.StatusCreated), true
	}
}

// floorLoginOp is login's floor: start, a signature over the challenge
// (not timed, as the passkey's is not), finish.
func floorLoginOp(c *client, fs *floorServer, k *floorKey) operation {
	return func(ctx, _ context.Context) (sample, bool) {
		start := time.Now()
		r, err := c.do(ctx, "POST", fs.url+"/floor/login/start", map[string]any{}, nil)
		first := time.Since(start)
		if err != nil || r.status != http.StatusOK {
			return floorSample(start, r, err, http.StatusOK), true
		}
		var begun struct {
			LoginID   string `json:"login_id"`
			Challenge string `json:"challenge"`
		}
		if err := r.decode(&begun); err != nil {
			return sample{errKey: "bad answer"}, true
		}
		sig, err := k.signRaw([]byte(begun.Challenge))
		if err != nil {
			return sample{errKey: "signing"}, true
		}
		start = time.Now()
		r, err = c.do(ctx, "POST", fs.url+"/floor/login/finish", map[string]any{"login_id": begun.LoginID, "signature": sig}, nil)
		s := floorSample(start, r, err, http.StatusOK)
		s.elapsed += first
		return s, true
	}
}

func floorSample(start time.Time, r *response, err error, want int) sample {
	s := sample{elapsed: time.Since(start)}
	switch {
	case err != nil:
		s.errKey = "transport"
	case r.status != want:
		s.errKey = r.errorKey()
		if len(bytes.TrimSpace(r.raw)) == 0 {
			s.errKey = fmt.Sprint(r.status)
		}
	}
	return s
}
