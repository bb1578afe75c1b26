package faulttest

import (
	"os"
	"strconv"
	"strings"
)

// Issue 11's fixes, as far as paycode has them: THE ONE PLACE to switch
// on what the fault tests expect. Each is false until its fix lands; set
// it to true (one line) and the tests assert what the fix promises.
// PAYCODE_TEST_ISSUE11=wait,deadline,locks,follow (any of them) switches them on
// for one run without editing, for whoever is implementing them.
const (
	// fixedWait: PAYCODE_REDIS_WAIT_REPLICAS and PAYCODE_REDIS_WAIT_TIMEOUT
	// exist, and a movement is answered 201 only once that many replicas
	// hold it. Runs the waitReplicas=1 rows of the failover tests, which
	// then assert 0 lost, 0 doubled, 0 two ids, 0 wrong answers.
	fixedWait = false
	// fixedDeadline: PAYCODE_REDIS_TIMEOUT exists, and every Redis fault
	// is answered 503 with Retry-After within about a second. The delayed
	// and withheld replies tests then assert it.
	fixedDeadline = false
	// fixedLocks: no idempotency lock outlives its request (the check is
	// inside the money script, or the lock is released on every failure
	// path), so no 409 is answered once a fault has healed. The crash test
	// then asserts 0 wrong answers.
	fixedLocks = false
	// fixedFollow: paycode serves a Cluster's failed-over slots within
	// seconds while the old master stays dead (its client reloads the slot
	// map on connection errors, or often). Today it needs a MOVED answer or
	// waits for go-redis's 60 s reload; the Cluster test then restarts the
	// old master to get one. With the fix the test asserts it is not needed.
	fixedFollow = false
)

// fixed reports whether the named fix ("wait", "deadline", "locks", "follow") is
// switched on, by the constants above or PAYCODE_TEST_ISSUE11.
func fixed(name string) bool {
	for _, f := range strings.Split(os.Getenv("PAYCODE_TEST_ISSUE11"), ",") {
		if strings.TrimSpace(f) == name {
			return true
		}
	}
	switch name {
	case "wait":
		return fixedWait
	case "deadline":
		return fixedDeadline
	case "locks":
		return fixedLocks
	case "follow":
		return fixedFollow
	}
	panic("faulttest: unknown fix " + name)
}

// Settings of issue 11 every fault test runs paycode with. Until paycode
// reads them, they change nothing; once it does, the tests measure them
// (and the gates above decide what is asserted).
const (
	waitTimeout  = "250ms" // PAYCODE_REDIS_WAIT_TIMEOUT
	redisTimeout = "500ms" // PAYCODE_REDIS_TIMEOUT
	// promptAnswer is how soon a fault must be answered with the deadline:
	// "503 with Retry-After within a second", plus scheduling slack on a
	// busy 2-core machine.
	promptAnswerMillis = 1500
)

func settings(waitReplicas int) map[string]string {
	return map[string]string{
		"PAYCODE_REDIS_WAIT_REPLICAS": strconv.Itoa(waitReplicas),
		"PAYCODE_REDIS_WAIT_TIMEOUT":  waitTimeout,
		"PAYCODE_REDIS_TIMEOUT":       redisTimeout,
	}
}
