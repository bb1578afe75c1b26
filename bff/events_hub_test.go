package bff

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/store/storetest"
)

// serveForTest serves s on a real listener until the test ends and
// returns its base URL.
func serveForTest(t *testing.T, s *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return "http://" + ln.Addr().String()
}

// getStream opens GET /v1/events on base with its own connection and
// returns the response (the caller closes it).
func getStream(t *testing.T, base string, s *Server, d *device) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/v1/events", nil)
	req.Header.Set("Authorization", "DPoP "+d.access)
	req.Header.Set("DPoP", d.key.Proof("GET", s.requestURL0("/v1/events"), d.access, "", d.e.clock.Now()))
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// pubsubClients counts the Redis connections in pub/sub mode and all
// client connections on the server at url.
func pubsubClients(t *testing.T, url string) (pubsub, all int) {
	t.Helper()
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(o)
	defer rdb.Close()
	list, err := rdb.ClientList(t.Context()).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		all++
		for _, f := range strings.Fields(line) {
			if (strings.HasPrefix(f, "psub=") && f != "psub=0") || (strings.HasPrefix(f, "sub=") && f != "sub=0") {
				pubsub++
				break
			}
		}
	}
	return pubsub, all - 1 // not this one
}

// One account opened 300 event streams and each held its own Redis
// connection until Redis refused clients and payments failed for everyone
// (issue 13 item 1). Streams now share the replica's one subscription and
// are capped per account and per replica with a 429.
func TestEventStreamsShareOneRedisConnection(t *testing.T) {
	srv := storetest.StartServer(t)
	if !srv.Real {
		t.Skip("counting connections needs a real redis-server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := store.Open(ctx, store.Options{URL: srv.URL, Prefix: "hub:"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	const perAccount, perReplica = 12, 20
	e := newEnvOn(t, st, map[string]string{
		"PAYCODE_STREAMS_PER_ACCOUNT": "12", "PAYCODE_STREAMS_PER_REPLICA": "20"})
	base := serveForTest(t, e.s)
	a, b := e.newDevice(), e.newDevice()
	a.signup("streams-a@example.com")
	b.signup("streams-b@example.com")

	for i := range perAccount {
		if r := getStream(t, base, e.s, a); r.StatusCode != 200 {
			t.Fatalf("stream %d of account a: %d", i+1, r.StatusCode)
		}
	}
	// One more for the same account: 429 too_many_streams.
	r := getStream(t, base, e.s, a)
	body, _ := io.ReadAll(r.Body)
	var p map[string]any
	_ = json.Unmarshal(body, &p)
	if r.StatusCode != 429 || p["code"] != codeTooManyStreams {
		t.Fatalf("stream %d of one account: %d %s; want 429 %s", perAccount+1, r.StatusCode, body, codeTooManyStreams)
	}
	// Another account fills the replica to its cap, then is refused too.
	for i := range perReplica - perAccount {
		if r := getStream(t, base, e.s, b); r.StatusCode != 200 {
			t.Fatalf("stream %d of account b: %d", i+1, r.StatusCode)
		}
	}
	r = getStream(t, base, e.s, b)
	body, _ = io.ReadAll(r.Body)
	p = nil
	_ = json.Unmarshal(body, &p)
	if r.StatusCode != 429 || p["code"] != codeTooManyStreams || r.Header.Get("Retry-After") == "" {
		t.Fatalf("stream past the replica's cap: %d %s (Retry-After %q); want 429 %s with Retry-After",
			r.StatusCode, body, r.Header.Get("Retry-After"), codeTooManyStreams)
	}
	if n := e.s.hub.Streams(); n != perReplica {
		t.Errorf("hub serves %d streams; want %d", n, perReplica)
	}
	if v := metricLine(t, e.s, "paycode_event_hub_up"); v != "1" {
		t.Errorf("paycode_event_hub_up = %q; want 1", v)
	}

	// The figures: 20 streams open on this replica, one pub/sub
	// connection, and the pool's few others.
	ps, all := pubsubClients(t, srv.URL)
	t.Logf("%d event streams open: %d Redis pub/sub connection(s), %d Redis connections in all", perReplica, ps, all)
	if ps != 1 {
		t.Errorf("%d Redis pub/sub connections for %d streams on one replica; want 1", ps, perReplica)
	}
	if all >= perReplica {
		t.Errorf("%d Redis connections with %d streams open; want far fewer than one per stream", all, perReplica)
	}
}

// A stream whose client went away gives its place back at once, not at
// its next heartbeat (the attack run saw closed streams held 16 s).
func TestEventStreamEndsWhenClientLeaves(t *testing.T) {
	e := newEnv(t, nil)
	ended := make(chan struct{}, 1)
	e.s.streamEnded = func() { ended <- struct{}{} }
	base := serveForTest(t, e.s)
	d := e.newDevice()
	d.signup("leaves@example.com")
	r := getStream(t, base, e.s, d)
	if r.StatusCode != 200 {
		t.Fatalf("stream: %d", r.StatusCode)
	}
	if n := e.s.hub.Streams(); n != 1 {
		t.Fatalf("hub serves %d streams; want 1", n)
	}
	r.Body.Close()
	// The heartbeat is 15 s; the bound is a third of it.
	select {
	case <-ended:
	case <-time.After(streamHeartbeat / 3):
		t.Fatalf("the stream was still open %v after its client closed the connection", streamHeartbeat/3)
	}
	if n := e.s.hub.Streams(); n != 0 {
		t.Errorf("hub serves %d streams after the client left; want 0", n)
	}
}
