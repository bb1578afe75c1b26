package redistest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/paycode/paycode/store/storetest"
)

// Require skips the test when one of the named programs (redis-server,
// redis-cli) is not installed, or fails it when PAYCODE_TEST_REQUIRE_REDIS
// or CI is set.
func Require(t testing.TB, programs ...string) {
	t.Helper()
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			if storetest.Required() {
				t.Fatalf("%s is not installed, and this run requires real Redis (PAYCODE_TEST_REQUIRE_REDIS or CI is set)", p)
			}
			t.Skipf("%s is not installed; install redis-server (and redis-tools) to run this test", p)
		}
	}
}

// Ports are drawn from [portLow, portHigh): their Cluster bus ports
// (+10000) are [30000, 32700), below Linux's ephemeral range (32768-), so
// neither collides with outgoing connections, nor with 6379 and
// 7000-7002/17000-17002.
const (
	portLow  = 20000
	portHigh = 22700
	busShift = 10000
)

var (
	portsMu sync.Mutex
	// handedOut remembers the ports this process gave out, so that two
	// nodes never get the same port before either has bound it.
	handedOut = map[int]bool{}
)

// freePort returns a port on 127.0.0.1 that is free, and whose bus port
// (+10000) is free too, at the time of the call.
func freePort() (int, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 200 {
		p := portLow + rand.IntN(portHigh-portLow)
		if handedOut[p] || !canListen(p) || !canListen(p+busShift) {
			continue
		}
		handedOut[p] = true
		return p, nil
	}
	return 0, errors.New("no free port pair found between 20000 and 22700")
}

func canListen(port int) bool {
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// pollInterval is how often waits look at the real state again.
const pollInterval = 25 * time.Millisecond

// waitFor polls cond until it reports done, or fails the test after
// timeout with what the last poll said.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (done bool, state string)) {
	t.Helper()
	if err := poll(timeout, cond); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// poll is waitFor returning an error instead of failing the test.
func poll(timeout time.Duration, cond func() (bool, string)) error {
	deadline := time.Now().Add(timeout)
	for {
		done, state := cond()
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v (last seen: %s)", timeout, state)
		}
		time.Sleep(pollInterval)
	}
}
